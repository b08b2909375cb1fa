/**
 * The flagship pipeline, end to end, with no setup (`pnpm demo`): it starts the embedded package
 * registry (a real loopback server seeded with a tiny base model and delta packages), searches it,
 * batch-loads the three best-rated packages with a progress bar, streams the alignment of the best
 * one into the base model with per-layer progress, and streams a model's explanation of the result
 * token by token. The model is a local fake OpenAI-compatible server unless OPENAI_API_KEY,
 * ANTHROPIC_API_KEY or GEMINI_API_KEY is set (then the real provider answers; SLUICE_DEMO_MODEL
 * picks the model). Outputs go to out/demo/ (gitignored). Progress bars redraw in place on a
 * terminal and become plain lines when piped. Run: `pnpm demo`.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Part } from '@sluice/core';
import { type FakeModelServer, type RecordedRequest, startFakeModelServer } from '@sluice/processors/testing';
import {
  type AlignmentChunk,
  alignProgress,
  batchLoadProgress,
  Client,
  createLLM,
  type Environment,
  initTracing,
  type LLM,
  type LoadResult,
  type ProgressOutput,
  type VectorPackage,
} from '@sluice/sdk';
import { startRegistryServer } from '@sluice/sdk/testing';

/** Where the demo writes by default: `out/demo/` at the repository root. */
export const DEFAULT_OUT_DIR = fileURLToPath(new URL('../out/demo/', import.meta.url));

export interface DemoOptions {
  /** Where everything is printed; default `process.stdout` (bars redraw in place when it is a TTY). */
  stdout?: ProgressOutput;
  /** Where API keys are looked up; default `process.env`. */
  env?: Environment;
  /** Default `out/demo/` in the repository. */
  outDir?: string;
  /** Aborting stops every step (downloads, alignment, the model stream). */
  signal?: AbortSignal;
}

export interface DemoResult {
  outDir: string;
  /** Which model explained: 'fake' or the provider's name. */
  provider: string;
  found: VectorPackage[];
  loaded: LoadResult[];
  chunks: AlignmentChunk[];
  alignedPath: string;
  /** The explanation, as streamed. */
  explanation: string;
  /** Text parts that arrived from the model (each printed as it arrived). */
  tokens: number;
  durationMs: number;
}

/** The facts the model is asked to explain; sent as JSON at the end of the prompt. */
interface Facts {
  package: { id: string; name: string; description: string; format?: string };
  baseModel: string;
  strength: number;
  /** Layers numbered from 1, as the progress bar shows them. */
  layers: { layer: number; deltaNorm: number }[];
  alignmentScore: number;
  output: string;
}

const FACTS_MARKER = 'Facts (JSON):';
const STRENGTH = 0.5;

/** The fake model's answer: an explanation written from the facts found in the prompt. */
function fakeExplanation(request: RecordedRequest): string {
  const prompt = request.messages.findLast((m) => m.role === 'user')?.text ?? '';
  const at = prompt.indexOf(FACTS_MARKER);
  if (at < 0) return 'I was not given any alignment to explain.';
  const facts = JSON.parse(prompt.slice(at + FACTS_MARKER.length)) as Facts;
  const byNorm = [...facts.layers].sort((a, b) => b.deltaNorm - a.deltaNorm);
  const most = byNorm[0]!;
  const least = byNorm.at(-1)!;
  return [
    `The package ${facts.package.id} ("${facts.package.name}": ${facts.package.description.replace(/\.$/, '')})`,
    `was added to ${facts.baseModel} at strength ${facts.strength}: every delta was scaled by ${facts.strength} before being added to its weight.`,
    `Layer ${most.layer} changed the most (delta norm ${most.deltaNorm.toFixed(3)})`,
    `and layer ${least.layer} the least (${least.deltaNorm.toFixed(3)}).`,
    `The alignment score of ${facts.alignmentScore.toFixed(4)} is the cosine between the modified weights before and after:`,
    `close to 1, so the model keeps what it knew while leaning towards the new style.`,
    `The aligned weights are a drop-in replacement for the base file: ${facts.output}.`,
  ].join(' ');
}

/** The model that explains: a real provider when its key is set, else a local fake OpenAI-compatible server. */
async function pickModel(
  env: Environment,
): Promise<{ llm: LLM; provider: string; about: string; fake?: FakeModelServer }> {
  const model = env.SLUICE_DEMO_MODEL;
  if (env.OPENAI_API_KEY) {
    const llm = createLLM('openai', { model: model ?? 'gpt-4o-mini', maxTokens: 300, env });
    return { llm, provider: 'openai', about: `OpenAI ${llm.model} (OPENAI_API_KEY is set)` };
  }
  if (env.ANTHROPIC_API_KEY) {
    const llm = createLLM('anthropic', { model: model ?? 'claude-haiku-4-5', maxTokens: 300, env });
    return { llm, provider: 'anthropic', about: `Anthropic ${llm.model} (ANTHROPIC_API_KEY is set)` };
  }
  if (env.GEMINI_API_KEY || env.GOOGLE_API_KEY) {
    const llm = createLLM('gemini', { model: model ?? 'gemini-2.5-flash', maxTokens: 300, env });
    return { llm, provider: 'gemini', about: `Gemini ${llm.model} (GEMINI_API_KEY is set)` };
  }
  const fake = await startFakeModelServer({ provider: 'openai', reply: fakeExplanation, delayMs: 12 });
  const llm = createLLM('openai', { model: 'sluice-demo', baseURL: fake.baseURL, env: {} });
  return {
    llm,
    provider: 'fake',
    fake,
    about: `a local fake OpenAI-compatible server at ${fake.baseURL} (set OPENAI_API_KEY, ANTHROPIC_API_KEY or GEMINI_API_KEY for a real model)`,
  };
}

/** A path as the user would type it from the current folder. */
function shown(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
}

export async function main(options: DemoOptions = {}): Promise<DemoResult> {
  const stdout = options.stdout ?? process.stdout;
  const env = options.env ?? process.env;
  const outDir = resolve(options.outDir ?? DEFAULT_OUT_DIR);
  const packagesDir = join(outDir, 'packages');
  const { signal } = options;
  const say = (line = '') => stdout.write(`${line}\n`);
  const started = Date.now();
  await mkdir(outDir, { recursive: true });
  // Every model call of the demo is recorded (kind 'llm', with its tokens and time to first token).
  const tracesDir = join(outDir, 'traces');
  const tracing = await initTracing({ store: tracesDir, project: 'demo' });

  say('Sluice demo: search -> batchLoad -> streamAlign -> explain');
  // The registry keeps the base model in outDir (a given folder is not deleted on close).
  const registry = await startRegistryServer({ dir: outDir });
  const client = new Client({ baseURL: registry.baseURL, apiKey: registry.apiKey, cacheDir: packagesDir, env: {} });
  let model: Awaited<ReturnType<typeof pickModel>> | undefined;
  try {
    model = await pickModel(env);
    say(`registry: ${registry.url} (embedded; base model ${registry.baseModelName})`);
    say(`model:    ${model.about}`);

    // 1. Search: every page, in the registry's order (rating, then id).
    say();
    say(`1. search: style packages for ${registry.baseModelName}`);
    const found: VectorPackage[] = [];
    for await (const pkg of client.vectors.search(
      { query: 'style', model: registry.baseModelName, limit: 2 },
      { signal },
    )) {
      found.push(pkg);
      say(
        `   ${pkg.id.padEnd(14)} ${pkg.name.padEnd(16)} rating ${pkg.rating.toFixed(1)}  $${pkg.price.toFixed(2)}  ${pkg.format}`,
      );
    }

    // 2. batchLoad: purchase and download the top three, two at a time, verified by sha256.
    const picked = found.slice(0, 3).map((p) => p.id);
    say();
    say(`2. batchLoad: ${picked.join(', ')} into ${shown(packagesDir)}`);
    const progress = batchLoadProgress({ output: stdout });
    const loaded = await client.vectors.batchLoad({
      packageIds: picked,
      outputDir: packagesDir,
      maxConcurrency: 2,
      signal,
      ...progress,
    });
    progress.bar.done();
    const best = loaded.find((r) => r.success);
    if (!best) throw new Error(`demo: no package could be loaded: ${loaded.map((r) => r.error).join('; ')}`);

    // 3. streamAlign: one chunk per layer while the aligned file is written (the package is already in the cache).
    const alignedPath = join(outDir, `${registry.baseModelName}.aligned-${best.packageId}.safetensors`);
    say();
    say(`3. streamAlign: ${best.packageId} into ${registry.baseModelName} at strength ${STRENGTH}`);
    const chunks: AlignmentChunk[] = [];
    const alignment = client.wmatrix.streamAlign({
      baseWeights: registry.baseModelPath,
      vectorPackageId: best.packageId,
      strength: STRENGTH,
      output: alignedPath,
      signal,
    });
    for await (const chunk of alignProgress(alignment, { output: stdout })) chunks.push(chunk);
    const final = chunks.at(-1);
    if (!final?.isFinal || final.alignmentScore === undefined) throw new Error('demo: the alignment did not finish');
    say(`   alignment score ${final.alignmentScore.toFixed(4)}, written to ${shown(alignedPath)}`);

    // 4. Explain: the model's answer, printed token by token as it arrives.
    const pkg = found.find((p) => p.id === best.packageId)!;
    const facts: Facts = {
      package: { id: pkg.id, name: pkg.name, description: pkg.description, format: pkg.format },
      baseModel: registry.baseModelName,
      strength: STRENGTH,
      layers: chunks.map((c) => ({ layer: c.layerIndex + 1, deltaNorm: Number(c.deltaNorm.toFixed(6)) })),
      alignmentScore: final.alignmentScore,
      output: shown(alignedPath),
    };
    say();
    say(`4. explain (${model.provider === 'fake' ? 'fake model' : model.llm.model}), token by token:`);
    let explanation = '';
    let tokens = 0;
    const prompt =
      'In four or five plain sentences, explain to a developer what this weight alignment did ' +
      `and what the numbers mean.\n${FACTS_MARKER}\n${JSON.stringify(facts)}`;
    for await (const part of model.llm.stream(prompt, { signal }) as AsyncIterable<Part>) {
      if (part.substream !== '' || part.text === undefined) continue;
      stdout.write(part.text);
      explanation += part.text;
      tokens++;
    }
    say();
    const explanationPath = join(outDir, 'explanation.md');
    await writeFile(explanationPath, `${explanation}\n`);

    const durationMs = Date.now() - started;
    say();
    say(`done in ${(durationMs / 1000).toFixed(1)} s. Outputs are in ${shown(outDir)}/:`);
    say(`   ${shown(registry.baseModelPath)}  the base model`);
    for (const r of loaded) if (r.path) say(`   ${shown(r.path)}  package ${r.packageId}`);
    say(`   ${shown(alignedPath)}  the aligned model`);
    say(`   ${shown(explanationPath)}  the explanation`);
    await tracing.flush();
    say();
    say(`Trace: ${shown(tracesDir)}/ (the model calls, with tokens and time to first token).`);
    say(`Open it with: pnpm exec sluice-trace ${shown(tracesDir)}  (then browse the URL it prints)`);
    return {
      outDir,
      provider: model.provider,
      found,
      loaded,
      chunks,
      alignedPath,
      explanation,
      tokens,
      durationMs,
    };
  } finally {
    await tracing.close();
    await model?.llm.close();
    await client.close();
    await model?.fake?.close();
    await registry.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const controller = new AbortController();
  process.once('SIGINT', () => controller.abort(new Error('interrupted (Ctrl+C)')));
  try {
    await main({ signal: controller.signal });
  } catch (error) {
    console.error(`\ndemo failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  }
}
