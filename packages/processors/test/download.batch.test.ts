// The download processor over a batch: results in input order, a 404 fails only its own request, the server
// never sees more than maxConcurrency requests at once, duplicates share one download, progress arrives as
// status parts, and stopping the run (abort, break) leaves no partial file and no open connection.
import { join } from 'node:path';
import { jsonPart, type Part, readJSON, textPart } from '@sluice/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type DownloadResult, DownloadResultSchema, download } from '../src/download/index.ts';
import { partialsIn, tempFolder } from './fixtures-weights/models.ts';
import { type FileServer, patterned, sha256, startFileServer } from './fixtures-weights/server.ts';

let server: FileServer;
let dir: string;
let remove: () => Promise<void>;
beforeEach(async () => {
  server = await startFileServer();
  ({ dir, remove } = await tempFolder());
});
afterEach(async () => {
  await server.close();
  await remove();
});

const results = (parts: Part[]): DownloadResult[] =>
  parts
    .filter((p) => p.mimetype === 'application/json; type=DownloadResult')
    .map((p) => readJSON(p, DownloadResultSchema));
const request = (path: string, extra: Record<string, unknown> = {}) => jsonPart({ url: server.url(path), ...extra });

describe('download processor', () => {
  it('a 404 inside a batch fails only that request; results come in input order', async () => {
    const bodies = [patterned(300_000, 1), patterned(10, 2), patterned(1_500_000, 3), patterned(5, 4)];
    for (const [i, body] of bodies.entries()) server.files.set(`/f${i}.bin`, { body });
    // The first file is held until every other request has arrived, so it completes last.
    const everyone = server.requestsReached(5);
    server.route('/f0.bin', () => ({ holdBody: everyone }));
    const input = [
      request('/f0.bin'),
      request('/missing.bin'),
      request('/f1.bin'),
      request('/f2.bin'),
      request('/f3.bin'),
    ];
    const out = await download({ outputDir: dir, maxConcurrency: 5 })(input).gather();
    const got = results(out);
    expect(got.map((r) => [r.filename, r.success])).toEqual([
      ['f0.bin', true],
      ['missing.bin', false],
      ['f1.bin', true],
      ['f2.bin', true],
      ['f3.bin', true],
    ]);
    expect(got[1].error).toMatch(/HTTP 404/);
    expect(got.filter((r) => r.success).map((r) => r.sha256)).toEqual(bodies.map(sha256));
    expect(got[3]).toEqual({
      url: server.url('/f2.bin'),
      filename: 'f2.bin',
      path: join(dir, 'f2.bin'),
      sizeBytes: 1_500_000,
      sha256: sha256(bodies[2]),
      success: true,
    });
  });

  it('the server never sees more than maxConcurrency requests at once (and does see that many)', async () => {
    const files = 8;
    const max = 3;
    for (let i = 0; i < files; i++) server.files.set(`/f${i}.bin`, { body: patterned(50_000, i + 1) });
    const held: (() => void)[] = [];
    let arrived = 0;
    const pump = () => {
      while (held.length > 0 && (held.length >= max || arrived === files)) held.shift()!();
    };
    for (let i = 0; i < files; i++) {
      server.route(`/f${i}.bin`, () => {
        arrived++;
        const hold = new Promise<void>((resolve) => held.push(resolve));
        queueMicrotask(pump);
        return { holdBody: hold };
      });
    }
    const input = Array.from({ length: files }, (_, i) => request(`/f${i}.bin`));
    const got = results(await download({ outputDir: dir, maxConcurrency: max })(input).gather());
    expect(got.every((r) => r.success)).toBe(true);
    expect(server.maxActive()).toBe(max);
  });

  it('many files in flight on one run do not make Node warn of an abort-listener leak', async () => {
    const files = 16;
    for (let i = 0; i < files; i++) server.files.set(`/f${i}.bin`, { body: patterned(1000, i + 1) });
    // Every request is held until all have arrived, so all 16 are in flight at once.
    const everyone = server.requestsReached(files);
    for (let i = 0; i < files; i++) server.route(`/f${i}.bin`, () => ({ holdBody: everyone }));
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    try {
      const input = Array.from({ length: files }, (_, i) => request(`/f${i}.bin`));
      const got = results(await download({ outputDir: dir, maxConcurrency: files })(input).gather());
      expect(got.every((r) => r.success)).toBe(true);
      // Warnings are emitted on a later tick.
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('warning', onWarning);
    }
    expect(server.maxActive()).toBe(files);
    expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
  });

  it('duplicate requests share one download; a verified file already present costs no request', async () => {
    const body = patterned(100_000);
    server.files.set('/a.bin', { body });
    server.files.set('/b.bin', { body: patterned(10) });
    const out = await download({ outputDir: dir })([request('/a.bin'), request('/a.bin'), request('/b.bin')]).gather();
    const got = results(out);
    expect(got.map((r) => r.filename)).toEqual(['a.bin', 'a.bin', 'b.bin']);
    expect(got[0]).toEqual(got[1]);
    expect(server.requests.map((r) => r.path).sort()).toEqual(['/a.bin', '/b.bin']);
    const again = results(await download({ outputDir: dir })([request('/a.bin', { sha256: sha256(body) })]).gather());
    expect(again[0]).toMatchObject({ success: true, sha256: sha256(body) });
    expect(server.requests).toHaveLength(2);
  });

  it('emits progress as status parts (bytes and files), passes other parts through', async () => {
    server.files.set('/big.bin', { body: patterned(3 * 1024 * 1024) });
    const out = await download({ outputDir: dir, progressIntervalMs: 0 })([
      textPart('hello'),
      request('/big.bin'),
    ]).gather();
    expect(out[0].text).toBe('hello');
    const status = out.filter((p) => p.substream === 'status');
    expect(status.length).toBeGreaterThanOrEqual(3);
    expect(status.at(-1)!.metadata).toMatchObject({
      type: 'DownloadProgress',
      filesCompleted: 1,
      filesTotal: 1,
      bytesDone: 3 * 1024 * 1024,
      bytesTotal: 3 * 1024 * 1024,
    });
    expect(status.at(-1)!.text).toMatch(/downloaded big\.bin \(1\/1 files, 3\.0\/3\.0 MiB\)/);
    expect(status.some((p) => (p.metadata.bytesDone as number) < 3 * 1024 * 1024)).toBe(true);
  });

  it('aborting mid-batch rejects with the reason, removes the partials and closes the connections', async () => {
    for (let i = 0; i < 3; i++) server.files.set(`/f${i}.bin`, { body: patterned(3 * 1024 * 1024, i + 1) });
    const never = new Promise<void>(() => {});
    for (let i = 0; i < 3; i++) server.route(`/f${i}.bin`, () => ({ holdBody: never, bytesBeforeHold: 1_500_000 }));
    const controller = new AbortController();
    const reason = new Error('stop');
    const seen: Part[] = [];
    const run = (async () => {
      const stream = download({ outputDir: dir, progressIntervalMs: 0 })(
        [request('/f0.bin'), request('/f1.bin'), request('/f2.bin')],
        {
          signal: controller.signal,
        },
      );
      for await (const part of stream) {
        seen.push(part);
        // Once two files have written their first batch, abort.
        const writing = new Set(seen.filter((p) => p.substream === 'status').map((p) => p.text));
        if (writing.size >= 2 && server.requests.length >= 2) controller.abort(reason);
      }
    })();
    await expect(run).rejects.toBe(reason);
    expect(results(seen)).toEqual([]);
    expect(await partialsIn(dir)).toEqual([]);
    await server.idle();
    expect(server.connections()).toBe(0);
  });

  it('a consumer that stops early (break) leaves no partial and no connection', async () => {
    server.files.set('/f.bin', { body: patterned(3 * 1024 * 1024) });
    server.route('/f.bin', () => ({ holdBody: new Promise<void>(() => {}), bytesBeforeHold: 1_500_000 }));
    for await (const part of download({ outputDir: dir, progressIntervalMs: 0 })([request('/f.bin')])) {
      if (part.substream === 'status') break;
    }
    expect(await partialsIn(dir)).toEqual([]);
    await server.idle();
  });

  it('checks its options at once', () => {
    expect(() => download({ outputDir: dir, maxConcurrency: 0 })).toThrow(RangeError);
    expect(() => download({ outputDir: dir, retries: -1 })).toThrow(RangeError);
    expect(() => download({ outputDir: '' })).toThrow(TypeError);
  });
});
