// Tracing, Weave style: an op with callDisplayName, concurrent traced work, a streaming call,
// objects saved and fetched by ref, feedback, and querying the calls back.
//
//   pnpm exec tsx examples/tracing.ts        then: pnpm exec sluice-trace out/tracing/traces
import { toArray } from '@reactivex/ix-esnext-esm/asynciterable/toarray';
import { chain, type Part, partProcessor, textPart } from '@sluice/core';
import { fakeModel } from '@sluice/processors';
import { initTracing, op, traced } from '@sluice/sdk';

export async function main(options: { dir?: string; log?: (line: string) => void } = {}) {
  const log = options.log ?? ((line: string) => console.log(line));
  const dir = options.dir ?? 'out/tracing/traces';
  await using tracing = await initTracing({ project: 'examples', store: dir });

  // 1. An op named per call from its inputs.
  const extract = op(
    async function extract(sentence: string, field: string) {
      return sentence.split(' ').find((w) => w.startsWith(field[0]!)) ?? null;
    },
    { callDisplayName: (inputs) => `extract ${inputs.field}` },
  );

  // 2. Concurrent traced work: a fused traced pipeline run for several inputs at once, each run
  //    one call, each op inside it that run's child.
  const clean = partProcessor((p: Part) => textPart(p.text!.trim().toLowerCase()), { name: 'clean' });
  const tag = partProcessor(async (p: Part) => textPart(`${p.text} [${await extract(p.text!, 'name')}]`), {
    name: 'tag',
  });
  const pipeline = traced(chain(clean, tag), { name: 'annotate', kind: 'chain' });
  const sentences = ['  My name is Ada ', 'The night is young', ' Nobody came '];
  const annotated = await Promise.all(sentences.map(async (s) => (await pipeline([s]).gather())[0]!.text));
  log(`annotated: ${annotated.join(' | ')}`);

  // 3. A streaming call: the model's 'llm' call records its time to first token and usage.
  const model = traced(fakeModel({ reply: 'Streams are sequences over time.', delayMs: 5 }), { name: 'explain' });
  const ask = op(async function* ask(question: string) {
    for await (const p of model([question])) if (p.substream === '') yield p.text;
  });
  let answer = '';
  for await (const token of ask('What is a stream?')) answer += token;
  log(`answer: ${answer}`);

  // 4. Objects by ref: the same value gives the same ref; a changed one a new version.
  const v1 = await tracing.save({ template: 'Summarize: {text}', temperature: 0 }, 'prompt');
  const v2 = await tracing.save({ template: 'Summarize briefly: {text}', temperature: 0 }, 'prompt');
  const rows = await tracing.table('questions', [{ q: 'What is a stream?' }, { q: 'Why fuse?' }]);
  log(`saved ${v1}`);
  log(
    `newest prompt: ${JSON.stringify(await tracing.get(v2))}, table rows: ${(await tracing.get<unknown[]>(rows)).length}`,
  );

  // 5. Feedback on a call, and 6. querying the calls back.
  const [latest] = await toArray(tracing.calls({ op: 'ask', limit: 1 }));
  await tracing.feedback(latest!, 'thumbs', { up: true });
  const roots = await toArray(tracing.calls({ rootsOnly: true }));
  const llm = await toArray(tracing.calls({ op: 'fakeModel' }));
  log(`${roots.length} root calls; the model's first token after ${llm[0]!.firstOutputAt! - llm[0]!.startedAt} ms`);
  log(`feedback on ask: ${(await tracing.call(latest!.id))!.feedback.map((f) => f.type).join(', ')}`);
  await tracing.flush();
  log(`trace in ${dir}: open it with pnpm exec sluice-trace ${dir}`);
  return { annotated, answer, roots: roots.length, v1, v2 };
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
