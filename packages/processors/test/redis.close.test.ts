import { partProcessor } from '@sluice/core';
import { distributed, serve } from '@sluice/processors/redis';
import { describe, expect, it, onTestFinished } from 'vitest';
import { redisForTest } from './redis-helpers.ts';

describe('RemoteWorker.close()', () => {
  it('finishes the parts in flight (not aborted), takes no more, then leaves; another worker does the rest', async () => {
    const t = await redisForTest();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let inFlight!: () => void;
    const twoInFlight = new Promise<void>((resolve) => (inFlight = resolve));
    const seen: string[] = [];
    const gated = partProcessor(async (part, ctx) => {
      seen.push(part.text!);
      if (seen.length === 2) inFlight();
      await gate;
      return `${part.text}:${ctx.signal.aborted ? 'aborted' : 'done'}`;
    });
    const first = await serve({ gated }, { redis: t.server.url, concurrency: 2, name: 'first' });
    // Registered after the server's cleanup, so run before it (close() is idempotent).
    onTestFinished(() => first.close());
    const remote = distributed('gated', { redis: t.server.url, concurrency: 3 });
    const out = remote(['a', 'b', 'c']).gather();
    await twoInFlight;
    // Closing while a and b are in flight: they finish, c is left for another worker.
    const closing = first.close();
    release();
    await closing;
    expect(first.completed).toBe(2);
    expect(first.active).toBe(0);
    expect(seen).toEqual(['a', 'b']);
    // It held nothing when it left, so its consumer was deleted.
    const consumers = (await t.redis.sendCommand(['XINFO', 'CONSUMERS', 'sluice:proc:{gated}:parts', 'workers'])) as [
      string,
      string,
    ][];
    expect(consumers.map((c) => c[1])).not.toContain('first');
    const second = await serve({ gated }, { redis: t.server.url, name: 'second' });
    onTestFinished(() => second.close());
    expect((await out).map((p) => p.text)).toEqual(['a:done', 'b:done', 'c:done']);
    expect(second.completed).toBe(1);
  });
});
