import type { AlignmentChunk } from '@sluice/processors';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { alignProgress, batchLoadProgress, type ProgressOutput, progressBar } from '../src/index.ts';
import { clientOf, registry, tempDir } from './helpers.ts';

/** A writable that records what was written, as a terminal (`isTTY`) or a pipe. */
function fakeOutput(isTTY: boolean, columns?: number): ProgressOutput & { chunks: string[]; text(): string } {
  const chunks: string[] = [];
  return { isTTY, columns, chunks, write: (chunk: string) => chunks.push(chunk), text: () => chunks.join('') };
}

function chunk(layerIndex: number, totalLayers: number): AlignmentChunk {
  return {
    layerIndex,
    totalLayers,
    deltaNorm: 0.1,
    progressPct: (100 * (layerIndex + 1)) / totalLayers,
    isFinal: layerIndex === totalLayers - 1,
  };
}

async function* chunks(total: number, onStop: () => void = () => {}): AsyncGenerator<AlignmentChunk> {
  try {
    for (let i = 0; i < total; i++) yield chunk(i, total);
  } finally {
    onStop();
  }
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: matching terminal escape codes is the point
const ESCAPES = /[\r\x1b]/;

afterEach(() => {
  vi.useRealTimers();
});

describe('progressBar when the output is not a TTY', () => {
  it('writes one plain line per change, without carriage returns or escape codes', () => {
    const out = fakeOutput(false);
    const bar = progressBar({
      label: 'batchLoad',
      output: out,
      format: ({ current, total }) => `${current}/${total} files`,
    });
    expect(bar.tty).toBe(false);
    bar.update(1, 3);
    bar.update(1, 3); // same text: not repeated
    bar.update(2, 3);
    bar.log('  loaded vec-formal');
    bar.update(3, 3, '(done)');
    bar.done();
    bar.update(0, 3); // ignored after done
    expect(out.text()).toBe(
      'batchLoad: 1/3 files\nbatchLoad: 2/3 files\n  loaded vec-formal\nbatchLoad: 3/3 files (done)\n',
    );
    expect(out.text()).not.toMatch(ESCAPES);
  });

  it('alignProgress prints each layer with its percentage and passes every chunk through in order', async () => {
    const out = fakeOutput(false);
    const seen: number[] = [];
    for await (const c of alignProgress(chunks(4), { output: out })) seen.push(c.layerIndex);
    expect(seen).toEqual([0, 1, 2, 3]);
    expect(out.chunks).toEqual([
      'align: layer 1/4 (25%)\n',
      'align: layer 2/4 (50%)\n',
      'align: layer 3/4 (75%)\n',
      'align: layer 4/4 (100%)\n',
    ]);
  });

  it('shows 100 % only once complete', () => {
    const out = fakeOutput(false);
    const bar = progressBar({ label: 'x', output: out, format: ({ percent }) => `${percent}%` });
    bar.update(199, 200);
    bar.update(200, 200);
    expect(out.chunks).toEqual(['x: 99%\n', 'x: 100%\n']);
  });

  it('writes nothing when done without any update, and the detail alone when given one', () => {
    const out = fakeOutput(false);
    progressBar({ label: 'x', output: out }).done();
    expect(out.chunks).toEqual([]);
    progressBar({ label: 'y', output: out }).done('skipped');
    expect(out.chunks).toEqual(['y: skipped\n']);
  });

  it('alignProgress passes a source error on without printing a bogus final line', async () => {
    const out = fakeOutput(false);
    const failing = async function* (): AsyncGenerator<AlignmentChunk> {
      yield chunk(0, 4);
      throw new Error('disk full');
    };
    const seen: number[] = [];
    await expect(
      (async () => {
        for await (const c of alignProgress(failing(), { output: out })) seen.push(c.layerIndex);
      })(),
    ).rejects.toThrow('disk full');
    expect(seen).toEqual([0]);
    expect(out.chunks).toEqual(['align: layer 1/4 (25%)\n']);
  });

  it('rejects negative or NaN counts', () => {
    const bar = progressBar({ label: 'x', output: fakeOutput(false) });
    expect(() => bar.update(-1, 3)).toThrow(RangeError);
    expect(() => bar.update(Number.NaN, 3)).toThrow(RangeError);
  });

  it('batchLoadProgress reports every package of a real batch, failures included', async () => {
    const server = await registry();
    const client = await clientOf(server);
    const out = fakeOutput(false);
    const results = await client.vectors.batchLoad({
      packageIds: ['vec-formal', 'vec-does-not-exist', 'vec-pirate'],
      outputDir: await tempDir(),
      maxConcurrency: 2,
      ...batchLoadProgress({ output: out }),
    });
    expect(results.map((r) => r.success)).toEqual([true, false, true]);
    const lines = out.text().split('\n').filter(Boolean);
    expect(lines.filter((l) => l.startsWith('batchLoad: '))).toEqual([
      'batchLoad: 1/3 files',
      'batchLoad: 2/3 files',
      'batchLoad: 3/3 files',
    ]);
    expect(lines).toContainEqual(expect.stringMatching(/^ {2}loaded vec-formal \(\d+\.\d KiB\)$/));
    expect(lines).toContainEqual(expect.stringMatching(/^ {2}failed vec-does-not-exist: .+/));
  });
});

describe('progressBar on a TTY', () => {
  it('redraws one line in place and ends it with a newline when done', () => {
    const out = fakeOutput(true);
    const bar = progressBar({ label: 'align', output: out, width: 4, intervalMs: 0 });
    expect(bar.tty).toBe(true);
    bar.update(1, 4);
    bar.update(2, 4);
    expect(out.chunks).toEqual(['\ralign [█░░░] 1/4\x1b[K', '\ralign [██░░] 2/4\x1b[K']);
    expect(out.text()).not.toContain('\n');
    bar.update(4, 4);
    bar.done('ok');
    expect(out.chunks.slice(2)).toEqual(['\ralign [████] 4/4\x1b[K', '\ralign [████] 4/4 ok\x1b[K', '\n']);
    bar.done();
    expect(out.chunks).toHaveLength(5);
  });

  it('throttles redraws and draws a skipped update when the interval ends', async () => {
    vi.useFakeTimers();
    const out = fakeOutput(true);
    const bar = progressBar({ label: 'dl', output: out, width: 10, intervalMs: 100 });
    bar.update(1, 10);
    bar.update(2, 10);
    bar.update(3, 10);
    expect(out.chunks).toEqual(['\rdl [█░░░░░░░░░] 1/10\x1b[K']);
    await vi.advanceTimersByTimeAsync(99);
    expect(out.chunks).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(out.chunks).toEqual(['\rdl [█░░░░░░░░░] 1/10\x1b[K', '\rdl [███░░░░░░░] 3/10\x1b[K']);
    bar.update(4, 10); // throttled: a trailing redraw is scheduled
    expect(vi.getTimerCount()).toBe(1);
    bar.update(10, 10); // the total is drawn at once, throttle or not
    expect(out.chunks.at(-1)).toBe('\rdl [██████████] 10/10\x1b[K');
    expect(vi.getTimerCount()).toBe(0);
    bar.update(10, 11);
    expect(vi.getTimerCount()).toBe(1);
    bar.done();
    expect(vi.getTimerCount()).toBe(0);
    expect(out.chunks.at(-1)).toBe('\n');
  });

  it('logs a line above the bar and redraws the bar below it', () => {
    const out = fakeOutput(true);
    const bar = progressBar({ label: 'batchLoad', output: out, width: 2, intervalMs: 0 });
    bar.log('before any bar');
    bar.update(1, 2);
    bar.log('  loaded vec-formal');
    expect(out.chunks).toEqual([
      'before any bar\n',
      '\rbatchLoad [█░] 1/2\x1b[K',
      '\r\x1b[K  loaded vec-formal\n',
      '\rbatchLoad [█░] 1/2\x1b[K',
    ]);
  });

  it('cuts the line to the terminal width so it never wraps', () => {
    const out = fakeOutput(true, 20);
    const bar = progressBar({ label: 'a-rather-long-label', output: out, intervalMs: 0 });
    bar.update(1, 2, 'with a long detail that would wrap');
    const line = out.chunks[0]!.replace('\r', '').replace('\x1b[K', '');
    expect(line).toHaveLength(19);
    expect(out.chunks[0]!.startsWith('\ra-rather-long-label')).toBe(true);
  });

  it('alignProgress stops its source and ends the bar when the consumer breaks', async () => {
    const out = fakeOutput(true);
    let stopped = false;
    for await (const c of alignProgress(
      chunks(4, () => {
        stopped = true;
      }),
      { output: out, intervalMs: 0, width: 4 },
    )) {
      if (c.layerIndex === 1) break;
    }
    expect(stopped).toBe(true);
    expect(out.chunks).toEqual(['\ralign [█░░░] layer 1/4 (25%)\x1b[K', '\ralign [██░░] layer 2/4 (50%)\x1b[K', '\n']);
  });
});
