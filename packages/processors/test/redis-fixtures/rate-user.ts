// A process sharing a rate limit through Redis: STARTS runs of a processor under rateLimit with a
// redisRateLimitStore (at most LIMIT starts in any WINDOW_MS), printing "start <epoch ms>" for each.
import { processor } from '@sluice/core';
import { createRateLimiter, rateLimit } from '@sluice/processors';
import { redisRateLimitStore } from '@sluice/processors/redis';

const limit = Number(process.env.LIMIT);
const windowMs = Number(process.env.WINDOW_MS);
const store = redisRateLimitStore({ redis: process.env.REDIS_URL!, name: 'shared-api' });
const limiter = createRateLimiter({ requestsPerSecond: (limit * 1000) / windowMs, burst: limit, store });
const work = rateLimit(
  processor(async function* () {
    process.stdout.write(`start ${performance.timeOrigin + performance.now()}\n`);
    yield 'ok';
  }),
  limiter,
);
await Promise.all(Array.from({ length: Number(process.env.STARTS) }, () => work([]).gather()));
await store.close();
process.stdout.write('done\n');
