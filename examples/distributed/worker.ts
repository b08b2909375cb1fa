/**
 * A worker of examples/distributed: serves the part processor 'headline' (one line of text in, the
 * line in title case plus its word count out, after a little simulated I/O) to any caller on the same
 * Redis. Run as many as you like, on any machine that reaches Redis; Ctrl-C finishes the parts in
 * flight, then leaves.
 *
 *   redis-server --port 6379 --save '' --appendonly no     # any Redis >= 7.0
 *   REDIS_URL=redis://127.0.0.1:6379 pnpm exec tsx examples/distributed/worker.ts   # terminal 2
 *   REDIS_URL=redis://127.0.0.1:6379 pnpm exec tsx examples/distributed/worker.ts   # terminal 3
 *   REDIS_URL=redis://127.0.0.1:6379 pnpm exec tsx examples/distributed/caller.ts   # terminal 4
 */
import { setTimeout as delay } from 'node:timers/promises';
import { partProcessor, textPart } from '@sluice/core';
import { serve } from '@sluice/processors/redis';

const redis = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

export const headline = partProcessor(
  async function* headline(part, ctx) {
    const words = (part.text ?? '').split(/\s+/).filter(Boolean);
    ctx.status(`worker ${process.pid}: ${words.length} words`);
    await delay(20 + 10 * words.length, undefined, { signal: ctx.signal }); // the "model call"
    yield textPart(words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join(' '), {
      metadata: { words: words.length, worker: process.pid },
    });
  },
  { name: 'headline' },
);

const worker = await serve({ headline }, { redis, concurrency: 2 });
process.stdout.write(`worker ${process.pid} serving 'headline' on ${redis}\n`);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, async () => {
    await worker.close();
    process.stdout.write(`worker ${process.pid} left\n`);
    process.exit(0);
  });
}
