import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openSafetensors } from '@sluice/processors';
import { afterEach, describe, expect, it } from 'vitest';
import { main } from '../demo.ts';

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

/** A pipe-like stdout recording each write and when it happened. */
function recorder() {
  const writes: { text: string; at: number }[] = [];
  return {
    isTTY: false,
    writes,
    write: (text: string) => writes.push({ text, at: performance.now() }),
    text: () => writes.map((w) => w.text).join(''),
  };
}

describe('examples/demo.ts (pnpm demo)', () => {
  it('searches, batch-loads three packages, aligns one with per-layer progress and streams the explanation', async () => {
    const outDir = await mkdtemp(join(tmpdir(), 'sluice-demo-'));
    dirs.push(outDir);
    const stdout = recorder();
    const started = performance.now();
    const result = await main({ stdout, env: {}, outDir });
    const elapsed = performance.now() - started;
    const text = stdout.text();
    const lines = text.split('\n');

    // Without API keys the local fake model answers.
    expect(result.provider).toBe('fake');
    for (const step of ['1. search: ', '2. batchLoad: ', '3. streamAlign: ', '4. explain ']) {
      expect(lines.some((l) => l.startsWith(step))).toBe(true);
    }
    // Search found the style packages for the base model, best rated first.
    expect(result.found.map((p) => p.id).slice(0, 3)).toEqual(['vec-concise', 'vec-pirate', 'vec-formal']);
    expect(result.found.every((p) => p.model === 'sluice-tiny-4l')).toBe(true);

    // batchLoad: three packages, progress as plain lines (stdout is not a TTY), files on disk.
    expect(result.loaded.map((r) => [r.packageId, r.success])).toEqual([
      ['vec-concise', true],
      ['vec-pirate', true],
      ['vec-formal', true],
    ]);
    expect(lines.filter((l) => l.startsWith('batchLoad: '))).toEqual([
      'batchLoad: 1/3 files',
      'batchLoad: 2/3 files',
      'batchLoad: 3/3 files',
    ]);
    for (const r of result.loaded) expect(r.path).toBe(join(outDir, 'packages', `${r.packageId}.safetensors`));
    expect(text.includes('\r') || text.includes('\x1b')).toBe(false); // no redraws in a pipe

    // streamAlign: one progress line per layer, then a valid safetensors file at the announced path.
    expect(lines.filter((l) => l.startsWith('align: '))).toEqual([
      'align: layer 1/4 (25%)',
      'align: layer 2/4 (50%)',
      'align: layer 3/4 (75%)',
      'align: layer 4/4 (100%)',
    ]);
    expect(result.alignedPath).toBe(join(outDir, 'sluice-tiny-4l.aligned-vec-concise.safetensors'));
    const [aligned, base] = await Promise.all([
      openSafetensors(result.alignedPath),
      openSafetensors(join(outDir, 'sluice-tiny-4l.safetensors')),
    ]);
    try {
      expect(aligned.tensors.map((t) => [t.name, t.dtype, t.shape])).toEqual(
        base.tensors.map((t) => [t.name, t.dtype, t.shape]),
      );
      expect(aligned.metadata['alignment.package']).toContain('vec-concise');
      expect(Number(aligned.metadata['alignment.strength'])).toBe(0.5);
      const name = 'model.layers.0.mlp.down_proj.weight';
      expect(Buffer.from(await aligned.read(name)).equals(Buffer.from(await base.read(name)))).toBe(false);
    } finally {
      await Promise.all([aligned.close(), base.close()]);
    }

    // The explanation was printed token by token, as the tokens arrived, and saved.
    const explainAt = stdout.writes.findIndex((w) => w.text.startsWith('4. explain'));
    const tokenWrites = stdout.writes.slice(explainAt + 1, explainAt + 1 + result.tokens);
    expect(result.tokens).toBeGreaterThan(20);
    expect(tokenWrites.map((w) => w.text).join('')).toBe(result.explanation);
    expect(tokenWrites.at(-1)!.at - tokenWrites[0]!.at).toBeGreaterThan(100); // spread over time, not one burst
    expect(result.explanation).toContain('vec-concise');
    expect(result.explanation).toContain(result.chunks.at(-1)!.alignmentScore!.toFixed(4));
    expect(await readFile(join(outDir, 'explanation.md'), 'utf8')).toBe(`${result.explanation}\n`);

    // It says where its outputs are, and is quick.
    expect(text).toContain(`Outputs are in ${outDir}/:`);
    expect(text).toContain(`${result.alignedPath}  the aligned model`);
    expect(text).toContain(`Open it with: pnpm exec sluice-trace ${outDir}/traces`);
    expect(elapsed).toBeLessThan(30_000);
    expect(result.durationMs).toBeLessThanOrEqual(elapsed);
  });

  it('runs as a script (`pnpm demo`) and writes under out/demo/', async () => {
    const root = fileURLToPath(new URL('../..', import.meta.url));
    const env = { ...process.env };
    for (const key of ['OPENAI_API_KEY', 'ANTHROPIC_API_KEY', 'GEMINI_API_KEY', 'GOOGLE_API_KEY']) delete env[key];
    // What `pnpm demo` runs (tsx examples/demo.ts), minus pnpm's own start-up time.
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'examples/demo.ts'], {
      cwd: root,
      env,
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('align: layer 4/4 (100%)');
    expect(run.stdout).toContain('Outputs are in out/demo/:');
    const aligned = await openSafetensors(join(root, 'out/demo/sluice-tiny-4l.aligned-vec-concise.safetensors'));
    await aligned.close();
    expect(aligned.tensors.length).toBeGreaterThan(0);
  });
});
