// rateLimit(): a sliding window of starts and a concurrency gate on virtual time, shared
// between processors, first come first served, and leaving the queue on abort.

import { type Processor, processor, textPart } from '@sluice/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createRateLimiter, rateLimit } from '../src/flow/rate-limit.ts';
import { fakeModel } from '../src/models/fake.ts';

afterEach(() => {
  vi.useRealTimers();
});

/** A processor that records when each run started (virtual ms) and takes `ms` to finish. */
function recorder(starts: number[], ms = 0, label = 'r'): Processor {
  return processor(async function* record() {
    starts.push(Date.now());
    if (ms > 0) await new Promise((resolve) => setTimeout(resolve, ms));
    yield textPart(label);
  });
}

describe('rateLimit', () => {
  it('lets `burst` starts through per window of burst / requestsPerSecond seconds', async () => {
    vi.useFakeTimers();
    const t0 = Date.now();
    const starts: number[] = [];
    const limited = rateLimit(recorder(starts), { requestsPerSecond: 2, burst: 2 });
    const runs = Promise.all([1, 2, 3, 4, 5].map(() => limited('x').text()));
    await vi.runAllTimersAsync();
    expect(await runs).toEqual(['r', 'r', 'r', 'r', 'r']);
    expect(starts.map((t) => t - t0)).toEqual([0, 0, 1000, 1000, 2000]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('at N per second, at most N runs start in any one-second window', async () => {
    vi.useFakeTimers();
    const starts: number[] = [];
    // Runs of 130 ms, arriving every 70 ms: the window, not the arrival pattern, decides.
    const limited = rateLimit(recorder(starts, 130), { requestsPerSecond: 5 });
    const runs: Promise<string>[] = [];
    for (let i = 0; i < 20; i++) {
      runs.push(limited('x').text());
      await vi.advanceTimersByTimeAsync(70);
    }
    await vi.runAllTimersAsync();
    await Promise.all(runs);
    expect(starts).toHaveLength(20);
    for (const t of starts) {
      const inWindow = starts.filter((s) => s >= t && s < t + 1000).length;
      expect(inWindow).toBeLessThanOrEqual(5);
    }
    expect(starts.filter((s) => s < starts[0]! + 1000)).toHaveLength(5);
  });

  it('holds at most `concurrency` runs in flight, releasing a slot when a run ends', async () => {
    vi.useFakeTimers();
    const t0 = Date.now();
    const starts: number[] = [];
    const limited = rateLimit(recorder(starts, 100), { concurrency: 2 });
    const runs = Promise.all([1, 2, 3, 4].map(() => limited('x').text()));
    await vi.runAllTimersAsync();
    await runs;
    expect(starts.map((t) => t - t0)).toEqual([0, 0, 100, 100]);
  });

  it('shares one budget between processors given the same limiter, first come first served', async () => {
    vi.useFakeTimers();
    const t0 = Date.now();
    const limiter = createRateLimiter({ requestsPerSecond: 1, burst: 1 });
    const order: string[] = [];
    const a = rateLimit(recorder([], 0, 'a'), { limiter });
    const b = rateLimit(recorder([], 0, 'b'), limiter);
    const runs = Promise.all(
      [a, b, a, b].map(async (p) => {
        const text = await p('x').text();
        order.push(`${text}@${Date.now() - t0}`);
      }),
    );
    await vi.runAllTimersAsync();
    await runs;
    expect(order).toEqual(['a@0', 'b@1000', 'a@2000', 'b@3000']);
  });

  it('releases the slot when a run fails or is stopped early', async () => {
    const limiter = createRateLimiter({ concurrency: 1 });
    const failing = rateLimit(
      processor(async function* fails() {
        yield textPart('x');
        throw new Error('boom');
      }),
      { limiter },
    );
    await expect(failing('x').gather()).rejects.toThrow('boom');
    expect(limiter.active).toBe(0);
    for await (const _ of rateLimit(fakeModel({ reply: 'a b c' }), { limiter })('x')) break;
    expect(limiter.active).toBe(0);
  });

  it('a run stopped while waiting leaves the queue and rejects with the reason', async () => {
    vi.useFakeTimers();
    const limiter = createRateLimiter({ requestsPerSecond: 1, burst: 1 });
    const limited = rateLimit(recorder([]), { limiter });
    await limited('x').text();
    const controller = new AbortController();
    const waiting = limited('y', { signal: controller.signal }).text();
    await vi.advanceTimersByTimeAsync(10);
    expect(limiter.waiting).toBe(1);
    const reason = new Error('give up');
    controller.abort(reason);
    await expect(waiting).rejects.toBe(reason);
    expect(limiter.waiting).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('validates its options', () => {
    expect(() => createRateLimiter({ requestsPerSecond: 0 })).toThrow(RangeError);
    expect(() => createRateLimiter({ concurrency: 0 })).toThrow(RangeError);
  });
});
