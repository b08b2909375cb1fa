/**
 * The caller of examples/distributed: sends lines to the 'headline' workers through
 * distributed('headline') and prints the results in input order, whichever worker finished first.
 * Start Redis and the workers first (see worker.ts for the commands); then:
 *
 *   REDIS_URL=redis://127.0.0.1:6379 pnpm exec tsx examples/distributed/caller.ts
 */
import { distributed } from '@sluice/processors/redis';

const redis = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

export const LINES = [
  'sluice gates control the flow',
  'parts stream from worker processes',
  'order is rebuilt at the caller',
  'a dead worker is replaced after claimIdleMs',
  'break stops every part everywhere',
  'redis streams carry it all',
];

const remote = distributed('headline', { redis, concurrency: 4 });
for await (const part of remote(LINES)) {
  if (part.substream === 'status') process.stdout.write(`  (${part.text})\n`);
  else process.stdout.write(`${part.text} [${part.metadata.words} words, worker ${part.metadata.worker}]\n`);
}
