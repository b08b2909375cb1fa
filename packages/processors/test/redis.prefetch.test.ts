import { partProcessor } from '@sluice/core';
import { distributed, serve } from '@sluice/processors/redis';
import { describe, expect, it, onTestFinished } from 'vitest';
import { prefetchOf } from '../src/redis/worker.ts';
import { type Inspector, redisForTest, waitFor } from './redis-helpers.ts';

/** Parts the consumer `name` of `processor`'s group holds (delivered, not acknowledged). */
async function held(redis: Inspector, processor: string, name: string): Promise<number> {
  const consumers = (await redis.sendCommand([
    'XINFO',
    'CONSUMERS',
    `sluice:proc:{${processor}}:parts`,
    'workers',
  ])) as unknown[][];
  for (const c of consumers) {
    const info: Record<string, unknown> = {};
    for (let k = 0; k < c.length; k += 2) info[String(c[k])] = c[k + 1];
    if (info.name === name) return Number(info.pending);
  }
  return 0;
}

describe('serve(): parts taken ahead of the free slots', () => {
  it('prefetches as many parts as free up in two round trips: none for long parts, at most concurrency', () => {
    // Nothing measured yet: only the free slots.
    expect(prefetchOf(16, 0, 0.8)).toBe(0);
    // 1.4 ms parts, 0.8 ms round trips: a full second set of slots.
    expect(prefetchOf(16, 1.4, 0.8)).toBe(16);
    // 20 ms parts: two (16 slots free one every 1.25 ms; two round trips of 1 ms).
    expect(prefetchOf(16, 20, 1)).toBe(2);
    // An LLM call of a second: none, so no part waits here while another worker is free.
    expect(prefetchOf(16, 1000, 1)).toBe(0);
    expect(prefetchOf(1, 0.05, 0.3)).toBe(1);
  });

  it('short parts: the worker holds parts ahead, never runs more than its concurrency, order kept', async () => {
    const t = await redisForTest();
    let running = 0;
    let most = 0;
    let mostHeld = 0;
    const quick = partProcessor(async (part) => {
      running++;
      most = Math.max(most, running);
      // Simulated I/O: the round trip of asking Redis how many parts this worker holds.
      mostHeld = Math.max(mostHeld, await held(t.redis, 'quick', 'w'));
      running--;
      return `${part.text}!`;
    });
    const worker = await serve({ quick }, { redis: t.server.url, concurrency: 2, name: 'w' });
    onTestFinished(() => worker.close());
    const remote = distributed('quick', { redis: t.server.url, concurrency: 16 });
    const inputs = Array.from({ length: 200 }, (_, i) => String(i));
    const out = await remote(inputs).gather();
    expect(out.map((p) => p.text)).toEqual(inputs.map((i) => `${i}!`));
    expect(most).toBe(2);
    // Parts as long as a round trip: two more than the free slots were taken ahead, never more.
    expect(mostHeld).toBeGreaterThan(2);
    expect(mostHeld).toBeLessThanOrEqual(4);
  });

  it('a part taken ahead of a stopped run never starts', async () => {
    const t = await redisForTest();
    const started: string[] = [];
    let aborted = false;
    // Records each part as the processor is called (before any of its output is asked for).
    const mixed = partProcessor((part, ctx) => {
      started.push(part.text!);
      if (part.text !== 'hang') return `${part.text}!`;
      return (async function* () {
        yield 'hang:first';
        await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
        aborted = true;
      })();
    });
    const worker = await serve({ mixed }, { redis: t.server.url, concurrency: 1, name: 'w' });
    onTestFinished(() => worker.close());
    const remote = distributed('mixed', { redis: t.server.url, concurrency: 8 });
    const inputs = ['q0', 'q1', 'q2', 'q3', 'q4', 'hang', 'after0', 'after1'];
    const seen: string[] = [];
    for await (const part of remote(inputs)) {
      seen.push(part.text!);
      if (part.text === 'hang:first') {
        // Short parts so far: while 'hang' runs, the worker holds the next part too.
        await waitFor(async () => ((await held(t.redis, 'mixed', 'w')) === 2 ? true : undefined), 'a part taken ahead');
        break;
      }
    }
    expect(seen).toEqual(['q0!', 'q1!', 'q2!', 'q3!', 'q4!', 'hang:first']);
    // The part in flight sees the abort; the one taken ahead is acknowledged without starting.
    await waitFor(async () => (aborted && (await held(t.redis, 'mixed', 'w')) === 0 ? true : undefined), 'the stop');
    expect(started).toEqual(['q0', 'q1', 'q2', 'q3', 'q4', 'hang']);
    expect(worker.active).toBe(0);
  });
});
