import { distributed } from '@sluice/processors/redis';
import { describe, expect, it } from 'vitest';
import { type Inspector, redisForTest, startWorker, waitFor } from './redis-helpers.ts';

async function usedMemory(redis: Inspector): Promise<number> {
  const info = (await redis.sendCommand(['INFO', 'memory'])) as string;
  return Number(/used_memory:(\d+)/.exec(info)![1]);
}

describe('distributed(): bounded Redis memory', () => {
  it('after 3,000 parts: streams trimmed to their unacknowledged entries, run keys with TTLs and then gone', async () => {
    const t = await redisForTest();
    await startWorker(t.server.url, { CONCURRENCY: '16', CLAIM_IDLE_MS: '400' });
    const before = await usedMemory(t.redis);
    const remote = distributed('echo', { redis: t.server.url, concurrency: 64 });
    const input = Array.from({ length: 3000 }, (_, i) => `m${i}`);
    let count = 0;
    let maxLength = 0;
    for await (const part of remote(input)) {
      if (part.substream !== '') continue;
      count++;
      if (count === 1) {
        // While running: the run key and this caller's output stream expire unless refreshed.
        const [run] = await t.redis.keys('sluice:run:*');
        const [outputs] = await t.redis.keys('sluice:caller:*');
        expect(await t.redis.pTTL(run!)).toBeGreaterThan(0);
        expect(await t.redis.pTTL(outputs!)).toBeGreaterThan(0);
      }
      if (count % 500 === 0) maxLength = Math.max(maxLength, await t.redis.xLen('sluice:proc:{echo}:parts'));
    }
    expect(count).toBe(6000);
    // Trimmed as it goes: never more than a trim batch beyond the parts queued or in flight.
    expect(maxLength).toBeLessThan(64 + 16 + 2 * 256);
    await waitFor(
      async () => ((await t.redis.xLen('sluice:proc:{echo}:parts')) === 0 ? true : undefined),
      'the parts stream to be trimmed',
    );
    // Nothing of the run is left once the caller has let go of Redis (just after the loop ends):
    // no run key, no output stream, no payload key.
    const leftover = async () => (await t.redis.keys('*')).filter((k) => !/^sluice:proc:\{\w+\}:parts$/.test(k)).sort();
    await waitFor(async () => ((await leftover()).length === 0 ? true : undefined), 'the run keys to be deleted').catch(
      async () => expect(await leftover()).toEqual([]),
    );
    expect(await usedMemory(t.redis)).toBeLessThan(before + 2 * 1024 * 1024);
  });
});
