/**
 * A worker process of bench/distributed.ts: serves the same job two ways, at concurrency 16 each,
 * on the same Redis: `serve({ io })` for sluice's distributed(), and a BullMQ Worker on queue 'io'.
 * The job is 1 ms of simulated I/O (a timer), then the input back. Prints "ready" once both listen.
 * Each side times its jobs (two performance.now() calls a job) for the slot occupancy the benchmark
 * prints with BENCH_ONLY.
 *   env: REDIS_URL, CONCURRENCY (16)
 */
import { setTimeout as delay } from 'node:timers/promises';
import { partProcessor } from '@sluice/core';
import { serve } from '@sluice/processors/redis';
import { Worker } from 'bullmq';

const url = new URL(process.env.REDIS_URL!);
const concurrency = Number(process.env.CONCURRENCY ?? 16);

/**
 * Per subject: parts run here, the sum of their durations and the span from the first start to the
 * last end, so the benchmark can report how many of the 16 slots were busy on average. Sent on a
 * "stats <subject>" line on stdin (and reset).
 */
const traces = {
  sluice: { parts: 0, busyMs: 0, first: -1, last: 0 },
  bullmq: { parts: 0, busyMs: 0, first: -1, last: 0 },
};
async function traced<T>(subject: keyof typeof traces, value: T): Promise<T> {
  const trace = traces[subject];
  const t0 = performance.now();
  await delay(1);
  const t1 = performance.now();
  trace.parts++;
  trace.busyMs += t1 - t0;
  if (trace.first < 0) trace.first = t0;
  trace.last = t1;
  return value;
}
process.stdin.on('data', (chunk) => {
  const asked = /stats (sluice|bullmq)/.exec(String(chunk));
  if (!asked) return;
  const subject = asked[1] as keyof typeof traces;
  process.stdout.write(`stats ${JSON.stringify(traces[subject])}\n`);
  traces[subject] = { parts: 0, busyMs: 0, first: -1, last: 0 };
});

const worker = await serve(
  {
    io: partProcessor((part) => traced('sluice', part), { concurrency }),
  },
  { redis: url.href, concurrency },
);
const bull = new Worker('io', (job) => traced('bullmq', job.data), {
  connection: { host: url.hostname, port: Number(url.port), maxRetriesPerRequest: null },
  concurrency,
  removeOnComplete: { count: 0 },
  removeOnFail: { count: 0 },
});
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
