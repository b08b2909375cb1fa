import { partProcessor } from '@sluice/core';
import { distributed, serve } from '@sluice/processors/redis';
import { describe, expect, it, onTestFinished } from 'vitest';
import { prefetchOf } from '../src/redis/worker.ts';
import { type Inspector, redisForTest, unfinished, waitFor } from './redis-helpers.ts';

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

/** A worker 'w' (concurrency 2) serving `spy`, which records each part it is called with. */
async function serveSpy(url: string, options: { claimIdleMs?: number }) {
  const started: string[] = [];
  const spy = partProcessor((part) => {
    started.push(part.text!);
    return part;
  });
  const worker = await serve({ spy }, { redis: url, concurrency: 2, name: 'w', ...options });
  onTestFinished(() => worker.close());
  return { started, worker };
}

describe('serve(): parts taken ahead of the free slots', () => {
  it('prefetches as many parts as free up in four round trips: none for long parts, at most concurrency', () => {
    // Nothing measured yet: only the free slots.
    expect(prefetchOf(16, 0, 0.8)).toBe(0);
    expect(prefetchOf(16, 1.4, 0)).toBe(0);
    // 1.4 ms parts, 0.4 ms round trips: a full second set of slots.
    expect(prefetchOf(16, 1.4, 0.4)).toBe(16);
    // 20 ms parts: three (16 slots free one every 1.25 ms; four round trips of 1 ms).
    expect(prefetchOf(16, 20, 1)).toBe(3);
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
    // Enough short parts first that a slow first one (a cold start) no longer weighs in the mean.
    const quick = Array.from({ length: 40 }, (_, i) => `q${i}`);
    const inputs = [...quick, 'hang', 'after0', 'after1'];
    const seen: string[] = [];
    for await (const part of remote(inputs)) {
      seen.push(part.text!);
      if (part.text === 'hang:first') {
        // Short parts so far: while 'hang' runs, the worker holds the next part too.
        await waitFor(async () => ((await held(t.redis, 'mixed', 'w')) === 2 ? true : undefined), 'a part taken ahead');
        break;
      }
    }
    expect(seen).toEqual([...quick.map((q) => `${q}!`), 'hang:first']);
    // The part in flight sees the abort; the one taken ahead is acknowledged without starting.
    await waitFor(async () => (aborted && (await held(t.redis, 'mixed', 'w')) === 0 ? true : undefined), 'the stop');
    expect(started).toEqual([...quick, 'hang']);
    expect(worker.active).toBe(0);
  });

  // The stop message comes on the worker's subscriber connection and can overtake the reply that
  // brings a part of that run (its liveness key still there when the part was read). Made here by
  // hand: a live run key, its stop published, then its part.
  it("a part read after its run's stop message never starts, though its run key still says live", async () => {
    const t = await redisForTest();
    const { started } = await serveSpy(t.server.url, {});
    await t.redis.set('sluice:run:stopped1', 'c1 30000 3', { PX: 30_000 });
    await t.redis.set('sluice:run:live1', 'c1 30000 3', { PX: 30_000 });
    // Received by the worker's subscriber before the parts below exist.
    expect(await t.redis.publish('sluice:stop', 'stopped1')).toBe(1);
    const stream = 'sluice:proc:{spy}:parts';
    await t.redis.sendCommand(['XADD', stream, '*', 'r', 'stopped1', 'i', '0', 'p', '{"text":"stopped"}']);
    await t.redis.sendCommand(['XADD', stream, '*', 'r', 'live1', 'i', '0', 'p', '{"text":"live"}']);
    await waitFor(async () => ((await unfinished(t.redis, 'spy')) === 0 ? true : undefined), 'both parts handled');
    expect(started).toEqual(['live']);
  });

  it("a dead worker's part of a run whose stop message arrived is acknowledged when claimed, not started", async () => {
    const t = await redisForTest();
    const { started, worker } = await serveSpy(t.server.url, { claimIdleMs: 100 });
    await t.redis.set('sluice:run:stopped2', 'c1 100 3', { PX: 30_000 });
    // A consumer that takes the part and dies: added and delivered in one transaction, so the
    // live worker's blocking read never sees it as new.
    const stream = 'sluice:proc:{spy}:parts';
    await t.redis
      .multi()
      .addCommand(['XADD', stream, '*', 'r', 'stopped2', 'i', '0', 'p', '{"text":"orphan"}'])
      .addCommand(['XREADGROUP', 'GROUP', 'workers', 'dead', 'COUNT', '1', 'STREAMS', stream, '>'])
      .exec();
    expect(await t.redis.publish('sluice:stop', 'stopped2')).toBe(1);
    // Idle past its run's claimIdleMs (100 ms), the live worker claims it and lets it go.
    await waitFor(async () => ((await unfinished(t.redis, 'spy')) === 0 ? true : undefined), 'the claim');
    expect(started).toEqual([]);
    expect(worker.completed).toBe(0);
  });
});
