import { catchErrors, chain, dataPart, EXCEPTION_MIMETYPE, partProcessor, textPart } from '@sluice/core';
import { distributed, RemoteProcessorError } from '@sluice/processors/redis';
import { describe, expect, it } from 'vitest';
import { redisForTest, startWorker } from './redis-helpers.ts';

describe('distributed() with serve() workers in other processes', () => {
  it('keeps input order when later parts finish first, and several workers share the load', async () => {
    const t = await redisForTest();
    const workers = await Promise.all([1, 2, 3].map(() => startWorker(t.server.url, { CONCURRENCY: '2' })));
    // Part i takes (12 - i) * 15 ms: the later a part, the sooner it finishes.
    const input = Array.from({ length: 12 }, (_, i) => `p${i}:${(12 - i) * 15}`);
    const remote = distributed('slow', { redis: t.server.url, concurrency: 12 });
    const out = await remote(input).gather();
    expect(out.map((p) => p.text)).toEqual(input.map((s) => s.split(':')[0]));
    const finished = out.map((p) => p.metadata.finishedAt as number);
    expect([...finished].sort((a, b) => a - b)).not.toEqual(finished); // completion order differed
    const served = new Set(out.map((p) => p.metadata.worker));
    expect(served).toEqual(new Set(workers.map((w) => String(w.pid))));
  });

  it('streams status and debug parts to the caller, and composes in a chain', async () => {
    const t = await redisForTest();
    await startWorker(t.server.url);
    const upper = partProcessor((p) => p.text!.toUpperCase(), { name: 'upper' });
    const out = await chain(distributed('echo', { redis: t.server.url }), upper)(['a', 'b']).gather();
    expect(out.filter((p) => p.substream === '').map((p) => p.text)).toEqual(['A:0', 'A:1', 'B:0', 'B:1']);
    expect(out.filter((p) => p.substream === 'status').map((p) => p.text)).toEqual(['echo a', 'echo b']);
    expect(out.filter((p) => p.substream === 'debug').map((p) => p.text)).toEqual(['debug a', 'debug b']);
  });

  it("carries a worker's error as RemoteProcessorError (name, message, code, stack), or an exception part under catchErrors", async () => {
    const t = await redisForTest();
    await startWorker(t.server.url);
    const remote = distributed('fail', { redis: t.server.url });
    const error = await remote(['x'])
      .gather()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RemoteProcessorError);
    const remoteError = error as RemoteProcessorError;
    expect(remoteError.code).toBe('E_REMOTE');
    expect(remoteError.remote).toMatchObject({ name: 'SluiceError', message: 'no good: x', code: 'E_FIXTURE' });
    expect(remoteError.remote.stack).toMatch(/worker\.ts/);
    expect(remoteError.message).toBe('fail failed on a worker: SluiceError: no good: x');

    const out = await catchErrors(remote)(['a', textPart('b')]).gather();
    expect(out.map((p) => p.mimetype)).toEqual([EXCEPTION_MIMETYPE, EXCEPTION_MIMETYPE]);
    expect(out[1]!.text).toBe('RemoteProcessorError: fail failed on a worker: SluiceError: no good: b');
  });

  it('moves large binary parts through payload keys that are deleted once read', async () => {
    const t = await redisForTest();
    await startWorker(t.server.url);
    const data = new Uint8Array(300 * 1024).map((_, i) => i % 251);
    const out = await distributed('bytes', { redis: t.server.url })([
      dataPart(data, 'application/octet-stream'),
    ]).gather();
    expect(out).toHaveLength(1);
    expect(out[0]!.data!.byteLength).toBe(data.byteLength * 2);
    expect(Buffer.from(out[0]!.data!.subarray(data.byteLength)).equals(Buffer.from(data))).toBe(true);
    expect(out[0]!.metadata.sum).toBe(data.reduce((a, b) => a + b, 0));
    expect(await t.redis.keys('sluice:blob:*')).toEqual([]);
  });
});
