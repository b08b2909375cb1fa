// A caller process for the redis tests: runs distributed('hang') over three parts and prints each
// output; the test kills it with SIGKILL to check that a dead caller's parts stop.
// Env: REDIS_URL, CLAIM_IDLE_MS.

import { distributed } from '@sluice/processors/redis';

const remote = distributed('hang', {
  redis: process.env.REDIS_URL!,
  concurrency: 3,
  claimIdleMs: Number(process.env.CLAIM_IDLE_MS ?? 30_000),
});
for await (const part of remote(['c0', 'c1', 'c2'])) process.stdout.write(`${part.text}\n`);
