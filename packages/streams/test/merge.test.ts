import { describe, expect, it, vi } from 'vitest';
import { endlessStream, gather, merge, streamContent } from '../src/index.ts';
import { tracked } from '../src/testing.ts';

describe('merge', () => {
  it('interleaves by availability and keeps each source in order', async () => {
    vi.useFakeTimers();
    try {
      const out = gather(
        merge([
          streamContent(['a1', 'a2', 'a3'], { delayMs: 10 }),
          streamContent(['b1', 'b2'], { delayMs: 15, delayFirst: true }),
        ]),
      );
      await vi.runAllTimersAsync();
      expect(await out).toEqual(['a1', 'a2', 'b1', 'a3', 'b2']);
    } finally {
      vi.useRealTimers();
    }
  });

  it('ends when every source ended, with all items', async () => {
    const sources = Array.from({ length: 50 }, (_, i) => streamContent([i * 2, i * 2 + 1]));
    const out = await gather(merge(sources));
    expect(out.sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i));
  });

  it('break stops every source and runs their finally blocks before the loop exits', async () => {
    const a = tracked([1, 2, 3], { endless: true });
    const b = tracked([10, 20], { endless: true });
    let seen = 0;
    for await (const _ of merge([a, b])) {
      if (++seen === 5) break;
    }
    expect(a.tracker.closed).toBe(true);
    expect(b.tracker.closed).toBe(true);
  });

  it('stopOnFirst ends when the first source ends and stops the rest', async () => {
    const slow = tracked(['x'], { endless: true, delayMs: 1 });
    const out = await gather(merge<number | string>([streamContent([1, 2]), slow], { stopOnFirst: true }));
    expect(out).toContain(1);
    expect(out).toContain(2);
    expect(slow.tracker.closed).toBe(true);
  });

  it('stopOnFirst ends promptly even while another source keeps producing', async () => {
    let produced = 0;
    async function* busy() {
      for (let i = 0; i < 1_000_000; i++) {
        produced++;
        yield i;
      }
    }
    const out = await gather(merge<number>([streamContent([-1]), busy()], { stopOnFirst: true }));
    expect(out).toContain(-1);
    expect(produced).toBeLessThan(1000);
  });

  it('throws the first error itself and stops the other sources', async () => {
    const boom = new TypeError('boom');
    const other = tracked([1], { endless: true });
    const failing = tracked([1, 2], { error: boom });
    await expect(gather(merge([other, failing]))).rejects.toBe(boom);
    expect(other.tracker.closed).toBe(true);
  });

  it('an abort rejects with signal.reason after stopping a source that waits forever', async () => {
    const controller = new AbortController();
    const reason = new Error('user stop');
    const endless = endlessStream<number>();
    const result = gather(merge([endless, streamContent([1])], { signal: controller.signal }));
    setTimeout(() => controller.abort(reason), 1);
    await expect(result).rejects.toBe(reason);
  });

  it('a fast producer and a stalled consumer buffer at most highWaterMark items plus one per source', async () => {
    const a = tracked(Array.from({ length: 10_000 }, (_, i) => i));
    const b = tracked(Array.from({ length: 10_000 }, (_, i) => i));
    const iterator = merge([a, b], { highWaterMark: 8 })[Symbol.asyncIterator]();
    await iterator.next();
    for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(a.tracker.pulled + b.tracker.pulled).toBeLessThanOrEqual(8 + 2 + 1);
    await iterator.return?.();
    expect(a.tracker.closed && b.tracker.closed).toBe(true);
  });

  it('rejects a bad highWaterMark with a RangeError', () => {
    expect(() => merge([], { highWaterMark: 0 })).toThrow(RangeError);
  });
});
