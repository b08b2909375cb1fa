/**
 * A worker process of bench/distributed.ts: serves the same job two ways, at concurrency 16 each,
 * on the same Redis: `serve({ io })` for sluice's distributed(), and a BullMQ Worker on queue 'io'.
 * The job is 1 ms of simulated I/O (a timer), then the input back. Prints "ready" once both listen.
 *   env: REDIS_URL, CONCURRENCY (16)
 */
import { setTimeout as delay } from 'node:timers/promises';
import { partProcessor } from '@sluice/core';
import { serve } from '@sluice/processors/redis';
import { Worker } from 'bullmq';

const url = new URL(process.env.REDIS_URL!);
const concurrency = Number(process.env.CONCURRENCY ?? 16);

const worker = await serve(
  {
    io: partProcessor(
      async (part) => {
        await delay(1);
        return part;
      },
      { concurrency },
    ),
  },
  { redis: url.href, concurrency },
);
const bull = new Worker(
  'io',
  async (job) => {
    await delay(1);
    return job.data;
  },
  {
    connection: { host: url.hostname, port: Number(url.port), maxRetriesPerRequest: null },
    concurrency,
    removeOnComplete: { count: 0 },
    removeOnFail: { count: 0 },
  },
);
await bull.waitUntilReady();
process.on('SIGTERM', async () => {
  setTimeout(() => process.exit(1), 5000).unref();
  await Promise.all([worker.close(), bull.close()]);
  process.exit(0);
});
// The benchmark process died: leave too.
process.stdin.on('end', () => process.exit(1));
process.stdin.resume();
process.stdout.write('ready\n');
