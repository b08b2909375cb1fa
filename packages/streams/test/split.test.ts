import { describe, expect, it } from 'vitest';
import { gather, split, streamContent } from '../src/index.ts';
import { tracked } from '../src/testing.ts';

describe('split', () => {
  it('gives every branch every item in order', async () => {
    const [a, b, c] = split(streamContent([1, 2, 3]), { n: 3 });
    expect(await Promise.all([gather(a!), gather(b!), gather(c!)])).toEqual([
      [1, 2, 3],
      [1, 2, 3],
      [1, 2, 3],
    ]);
  });

  it('n < 1 is a RangeError; n === 1 returns the source as the only branch', async () => {
    expect(() => split(streamContent([1]), { n: 0 })).toThrow(RangeError);
    const only = split(streamContent([1, 2]), { n: 1 });
    expect(only).toHaveLength(1);
    expect(await gather(only[0]!)).toEqual([1, 2]);
  });

  it('copy: true isolates branches from each other’s mutations', async () => {
    const [a, b] = split(streamContent([{ n: 1 }, { n: 2 }]), { copy: true });
    const left: number[] = [];
    for await (const item of a!) {
      item.n *= 100;
      left.push(item.n);
    }
    expect(left).toEqual([100, 200]);
    expect((await gather(b!)).map((item) => item.n)).toEqual([1, 2]);
  });

  it('an unread branch does not block the other while its buffer has room, and does once it is full', async () => {
    const source = tracked(Array.from({ length: 100 }, (_, i) => i));
    const [read, unread] = split(source, { highWaterMark: 10 });
    const seen: number[] = [];
    const iterator = read![Symbol.asyncIterator]();
    for (let i = 0; i < 10; i++) seen.push((await iterator.next()).value as number);
    expect(seen).toEqual(Array.from({ length: 10 }, (_, i) => i));
    let settled = false;
    const next = iterator.next().then((result) => {
      settled = true;
      return result.value;
    });
    for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(settled).toBe(false);
    expect(source.tracker.pulled).toBeLessThanOrEqual(11);
    const other = unread![Symbol.asyncIterator]();
    expect((await other.next()).value).toBe(0);
    expect(await next).toBe(10);
    await iterator.return?.();
    await other.return?.();
    expect(source.tracker.closed).toBe(true);
  });

  it('one branch stopping early does not stop the others; the source stops when all stopped', async () => {
    const source = tracked([1, 2, 3, 4]);
    const [a, b] = split(source);
    for await (const item of a!) if (item === 1) break;
    expect(source.tracker.closed).toBe(false);
    expect(await gather(b!)).toEqual([1, 2, 3, 4]);
    expect(source.tracker.closed).toBe(true);
  });

  it('a source error reaches every branch (same object)', async () => {
    const boom = new Error('boom');
    const [a, b] = split(tracked([1], { error: boom }));
    await expect(gather(a!)).rejects.toBe(boom);
    await expect(gather(b!)).rejects.toBe(boom);
  });

  it('an abort rejects every branch with signal.reason and stops the source', async () => {
    const controller = new AbortController();
    const reason = new Error('stop');
    const source = tracked([1], { endless: true, delayMs: 1 });
    const [a, b] = split(source, { signal: controller.signal });
    const results = Promise.allSettled([gather(a!), gather(b!)]);
    setTimeout(() => controller.abort(reason), 5);
    const settled = await results;
    expect(settled.map((r) => (r.status === 'rejected' ? r.reason : 'ok'))).toEqual([reason, reason]);
    expect(source.tracker.closed).toBe(true);
  });

  it('n === 1 with a signal still rejects with signal.reason on abort', async () => {
    const controller = new AbortController();
    const reason = new Error('stop');
    const [only] = split(tracked([1], { endless: true, delayMs: 1 }), { n: 1, signal: controller.signal });
    const result = gather(only!);
    setTimeout(() => controller.abort(reason), 5);
    await expect(result).rejects.toBe(reason);
  });

  it('a branch can be iterated only once', async () => {
    const [a] = split(streamContent([1]));
    await gather(a!);
    await expect(gather(a!)).rejects.toThrow(/only once/);
  });

  it('a copy function that throws fails every branch with that error and stops the source', async () => {
    const boom = new Error('copy failed');
    const source = tracked([1, 2, 3], { endless: true });
    const [a, b] = split(source, {
      copy: () => {
        throw boom;
      },
    });
    await expect(gather(a)).rejects.toBe(boom);
    await expect(gather(b)).rejects.toBe(boom);
    expect(source.tracker.closed).toBe(true);
  });
});
