import { distributed } from '@sluice/processors/redis';
import { describe, expect, it } from 'vitest';
import { redisForTest, spawnFixture, startWorker, unfinished, waitFor } from './redis-helpers.ts';

describe('distributed(): stopping across processes', () => {
  it('break after the first output: queued parts never start, parts in flight see the abort', async () => {
    const t = await redisForTest();
    // One worker taking two parts at a time; the caller queues four.
    await startWorker(t.server.url, { CONCURRENCY: '2' });
    const remote = distributed('hang', { redis: t.server.url, concurrency: 4 });
    const first: string[] = [];
    for await (const part of remote(['h0', 'h1', 'h2', 'h3'])) {
      first.push(part.text!);
      break;
    }
    expect(first).toEqual(['h0:first']);
    // The worker aborts ctx.signal of both parts in flight: their finally blocks run.
    const stopped = await waitFor(async () => {
      const list = await t.redis.lRange('stopped', 0, -1);
      return list.length === 2 ? list : undefined;
    }, 'both parts in flight to stop');
    expect(new Set(stopped)).toEqual(new Set(['h0', 'h1']));
    // The queued parts are taken and dropped, never started.
    await waitFor(async () => ((await unfinished(t.redis, 'hang')) === 0 ? true : undefined), 'the queue to drain');
    expect(new Set(await t.redis.lRange('started', 0, -1))).toEqual(new Set(['h0', 'h1']));
    // The run's liveness key is gone.
    expect(await t.redis.keys('sluice:run:*')).toEqual([]);
  });

  it('the caller process killed: its parts in flight stop and its queued parts never start', async () => {
    const t = await redisForTest();
    await startWorker(t.server.url, { CONCURRENCY: '1', CLAIM_IDLE_MS: '400' });
    const caller = spawnFixture('caller.ts', { REDIS_URL: t.server.url, CLAIM_IDLE_MS: '400' });
    await caller.line('c0:first');
    await caller.kill('SIGKILL');
    // Its run key expires (TTL claimIdleMs); the worker's heartbeat sees it and aborts the part.
    expect(
      await waitFor(async () => {
        const list = await t.redis.lRange('stopped', 0, -1);
        return list.length > 0 ? list : undefined;
      }, 'the part in flight to stop'),
    ).toEqual(['c0']);
    await waitFor(async () => ((await unfinished(t.redis, 'hang')) === 0 ? true : undefined), 'the queue to drain');
    expect(await t.redis.lRange('started', 0, -1)).toEqual(['c0']);
    // The dead caller's output stream expires too.
    await waitFor(async () => ((await t.redis.keys('sluice:caller:*')).length === 0 ? true : undefined), 'expiry');
  });

  it('an abort signal stops the run the same way, with the signal reason', async () => {
    const t = await redisForTest();
    await startWorker(t.server.url, { CONCURRENCY: '1' });
    const controller = new AbortController();
    const remote = distributed('hang', { redis: t.server.url, concurrency: 2 });
    const reason = new Error('enough');
    const seen: string[] = [];
    const error = await (async () => {
      for await (const part of remote(['a0', 'a1'], { signal: controller.signal })) {
        seen.push(part.text!);
        controller.abort(reason);
      }
    })().catch((e: unknown) => e);
    expect(error).toBe(reason);
    expect(seen).toEqual(['a0:first']);
    await waitFor(async () => ((await t.redis.lLen('stopped')) === 1 ? true : undefined), 'the part to stop');
    await waitFor(async () => ((await unfinished(t.redis, 'hang')) === 0 ? true : undefined), 'the queue to drain');
    expect(await t.redis.lRange('started', 0, -1)).toEqual(['a0']);
  });
});
