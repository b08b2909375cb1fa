import { partProcessor } from '@sluice/core';
import { cache } from '@sluice/processors';
import { redisCacheStore } from '@sluice/processors/redis';
import { describe, expect, it } from 'vitest';
import { redisForTest, spawnFixture } from './redis-helpers.ts';

describe('Redis stores for rateLimit and cache', () => {
  it('rateLimit with redisRateLimitStore: at most N starts in any window, across three processes', async () => {
    const t = await redisForTest();
    const LIMIT = 3;
    const WINDOW_MS = 400;
    const env = { REDIS_URL: t.server.url, LIMIT: String(LIMIT), WINDOW_MS: String(WINDOW_MS), STARTS: '4' };
    const users = [1, 2, 3].map(() => spawnFixture('rate-user.ts', env));
    await Promise.all(users.map((u) => u.line('done')));
    const starts = users
      .flatMap((u) => u.lines.filter((l) => l.startsWith('start ')).map((l) => Number(l.slice(6))))
      .sort((a, b) => a - b);
    expect(starts).toHaveLength(12);
    // Any LIMIT + 1 consecutive starts span at least a window. The processes read their own clocks
    // after Redis granted the start, so a start can be stamped late by however long its process
    // waited for the CPU (on 2 loaded cores, up to ~100 ms); a broken limiter starts all 12 at once.
    const lateness = 150;
    for (let i = 0; i + LIMIT < starts.length; i++) {
      expect(starts[i + LIMIT]! - starts[i]!).toBeGreaterThanOrEqual(WINDOW_MS - lateness);
    }
    // 12 starts at 3 per window need at least 3 full windows.
    expect(starts.at(-1)! - starts[0]!).toBeGreaterThanOrEqual(3 * WINDOW_MS - lateness);
  });

  it('cache with redisCacheStore: a result stored by one store is a hit through another, with the TTL', async () => {
    const t = await redisForTest();
    let calls = 0;
    const p = partProcessor(
      (part) => {
        calls++;
        return `${part.text}!`;
      },
      { name: 'shout' },
    );
    await using first = redisCacheStore({ redis: t.server.url, ttlMs: 60_000 });
    await using second = redisCacheStore({ redis: t.server.url, ttlMs: 60_000 });
    expect((await cache(p, { store: first })(['hi']).gather()).map((x) => x.text)).toEqual(['hi!']);
    const hit = await cache(p, { store: second })(['hi']).gather();
    expect(hit.map((x) => x.text)).toEqual(['hi!', 'shout: cache hit']);
    expect(calls).toBe(1);
    const [key] = await t.redis.keys('sluice:cache:*');
    expect(await t.redis.pTTL(key!)).toBeGreaterThan(59_000);
  });
});
