// The files total of download's progress is honest: requests are counted as they are read, and a
// total that the input may still raise is marked as a lower bound (`3/4+ files`,
// `filesTotalFinal: false`) until the input ended.

import { jsonPart, type Part, passthrough } from '@sluice/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type DownloadProgressMetadata, download } from '../src/download/index.ts';
import { tempFolder } from './fixtures-weights/models.ts';
import { type FileServer, patterned, startFileServer } from './fixtures-weights/server.ts';

let server: FileServer;
let dir: string;
let remove: () => Promise<void>;
beforeEach(async () => {
  server = await startFileServer();
  ({ dir, remove } = await tempFolder());
  for (let i = 0; i < 6; i++) server.files.set(`/f${i}.bin`, { body: patterned(20_000, i + 1) });
});
afterEach(async () => {
  await server.close();
  await remove();
});

const request = (i: number) => jsonPart({ url: server.url(`/f${i}.bin`) });
const progressOf = (parts: Part[]) =>
  parts
    .filter((p) => p.substream === 'status' && p.metadata.type === 'DownloadProgress')
    .map((p) => ({ text: p.text ?? '', ...(p.metadata as unknown as DownloadProgressMetadata) }));

/** An input the test feeds by hand: `push` a part, `end` it; the reader waits in between. */
function feed() {
  const queue: (Part | undefined)[] = [];
  let wake: (() => void) | undefined;
  const put = (item: Part | undefined) => {
    queue.push(item);
    wake?.();
  };
  const parts: AsyncIterable<Part> = {
    async *[Symbol.asyncIterator]() {
      for (;;) {
        while (queue.length === 0) await new Promise<void>((resolve) => (wake = resolve));
        const item = queue.shift();
        if (item === undefined) return;
        yield item;
      }
    },
  };
  return { parts, push: (p: Part) => put(p), end: () => put(undefined) };
}

describe('download progress totals', () => {
  it('a whole input (6 requests, maxConcurrency 1) reports the final total from the first status part', async () => {
    const out = await download({ outputDir: dir, maxConcurrency: 1, progressIntervalMs: 0 })(
      [0, 1, 2, 3, 4, 5].map(request),
    ).gather();
    const progress = progressOf(out);
    expect(progress.length).toBeGreaterThanOrEqual(6);
    expect(progress.map((p) => [p.filesTotal, p.filesTotalFinal])).toEqual(progress.map(() => [6, true]));
    expect(progress.filter((p) => p.result).map((p) => p.filesCompleted)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(progress.every((p) => new RegExp(`\\(${p.filesCompleted}/6 files, `).test(p.text))).toBe(true);
  });

  it('while the input is open the total is a lower bound (`1/2+ files`); once it ended, the final total', async () => {
    const input = feed();
    const run = download({ outputDir: dir, maxConcurrency: 1, progressIntervalMs: 0 })(input.parts);
    const iterator = run[Symbol.asyncIterator]();
    const seen: Part[] = [];
    const nextResult = async () => {
      for (;;) {
        const { value, done } = await iterator.next();
        if (done) throw new Error('the run ended early');
        seen.push(value);
        if (value.mimetype === 'application/json; type=DownloadResult') return;
      }
    };
    input.push(request(0));
    input.push(request(1));
    await nextResult();
    const open = progressOf(seen).filter((p) => p.result);
    expect(open.at(-1)).toMatchObject({ filesCompleted: 1, filesTotal: 2, filesTotalFinal: false });
    expect(open.at(-1)?.text).toMatch(/\(1\/2\+ files, /);

    input.push(request(2));
    input.end();
    for (;;) {
      const { value, done } = await iterator.next();
      if (done) break;
      seen.push(value);
    }
    const last = progressOf(seen).at(-1);
    expect(last).toMatchObject({ filesCompleted: 3, filesTotal: 3, filesTotalFinal: true });
    expect(last?.text).toMatch(/\(3\/3 files, /);
  });

  it('called directly or inside a chain, download reports the same final totals', async () => {
    const options = { outputDir: dir, maxConcurrency: 1, progressIntervalMs: 0 };
    const direct = progressOf(await download(options)([0, 1, 2].map(request)).gather());
    const chained = progressOf(await passthrough().pipe(download(options))([0, 1, 2].map(request)).gather());
    const summary = (progress: typeof direct) =>
      progress.filter((p) => p.result).map((p) => `${p.filesCompleted}/${p.filesTotal}${p.filesTotalFinal ? '' : '+'}`);
    expect(summary(direct)).toEqual(['1/3', '2/3', '3/3']);
    expect(summary(chained)).toEqual(summary(direct));
    expect(chained.filter((p) => p.result).every((p) => /\(\d\/3 files/.test(p.text))).toBe(true);
  });
});
