import { describe, expect, it } from 'vitest';
import {
  AsyncQueue,
  dequeue,
  endlessStream,
  enqueue,
  gather,
  merge,
  QueueClosedError,
  streamContent,
} from '../src/index.ts';
import { tracked } from '../src/testing.ts';

describe('AsyncQueue', () => {
  it('delivers items in order and finishes after close, once drained', async () => {
    const queue = new AsyncQueue<number>();
    await queue.put(1);
    await queue.put(2);
    expect(queue.size).toBe(2);
    queue.close();
    expect(await gather(queue)).toEqual([1, 2]);
  });

  it('put() resolves only when there is room; size counts buffered items, not pending puts', async () => {
    const queue = new AsyncQueue<number>({ highWaterMark: 2 });
    await queue.put(1);
    await queue.put(2);
    let third = false;
    const pending = queue.put(3).then(() => {
      third = true;
    });
    await Promise.resolve();
    expect(third).toBe(false);
    expect(queue.size).toBe(2);
    const iterator = queue[Symbol.asyncIterator]();
    expect((await iterator.next()).value).toBe(1);
    await pending;
    expect(third).toBe(true);
    expect(queue.size).toBe(2);
  });

  it('put() after close() or fail() throws', () => {
    const closed = new AsyncQueue<number>();
    closed.close();
    expect(() => closed.put(1)).toThrow(QueueClosedError);
    const failed = new AsyncQueue<number>();
    failed.fail(new Error('x'));
    expect(() => failed.put(1)).toThrow(/put\(\) after close\(\) or fail\(\)/);
  });

  it('fail(): consumers throw the error after draining', async () => {
    const queue = new AsyncQueue<number>();
    const boom = new Error('boom');
    await queue.put(1);
    queue.fail(boom);
    const seen: number[] = [];
    await expect(
      (async () => {
        for await (const item of queue) seen.push(item);
      })(),
    ).rejects.toBe(boom);
    expect(seen).toEqual([1]);
  });

  it('the default highWaterMark is bounded (64) and Infinity is allowed', async () => {
    const bounded = new AsyncQueue<number>();
    for (let i = 0; i < 64; i++) await bounded.put(i);
    let resolved = false;
    void bounded.put(64).then(() => {
      resolved = true;
    });
    await Promise.resolve();
    expect(resolved).toBe(false);
    const unbounded = new AsyncQueue<number>({ highWaterMark: Number.POSITIVE_INFINITY });
    for (let i = 0; i < 1000; i++) await unbounded.put(i);
    expect(unbounded.size).toBe(1000);
    expect(() => new AsyncQueue({ highWaterMark: -1 })).toThrow(RangeError);
  });
});

describe('enqueue / dequeue', () => {
  it('moves a source through the queue and closes it at the end', async () => {
    const queue = new AsyncQueue<number>({ highWaterMark: 2 });
    const done = enqueue(streamContent([1, 2, 3, 4, 5]), queue);
    expect(await gather(dequeue(queue))).toEqual([1, 2, 3, 4, 5]);
    await done;
  });

  it('a source error fails the queue and rejects enqueue with the same error', async () => {
    const queue = new AsyncQueue<number>();
    const boom = new Error('boom');
    const done = enqueue(tracked([1], { error: boom }), queue);
    await expect(gather(dequeue(queue))).rejects.toBe(boom);
    await expect(done).rejects.toBe(boom);
  });

  it('a consumer that stops early stops the producer: enqueue resolves and its source is returned', async () => {
    const queue = new AsyncQueue<number>({ highWaterMark: 1 });
    const source = tracked([1, 2, 3], { endless: true });
    const done = enqueue(source, queue);
    for await (const item of dequeue(queue)) if (item === 3) break;
    await done;
    expect(source.tracker.closed).toBe(true);
    expect(() => queue.put(9)).toThrow(QueueClosedError);
  });

  it('return() while a read waits on an empty queue ends that read at once and cancels the queue', async () => {
    const queue = new AsyncQueue<number>();
    const iterator = queue[Symbol.asyncIterator]();
    const pending = iterator.next();
    await iterator.return?.();
    expect(await pending).toEqual({ done: true, value: undefined });
    expect(() => queue.put(1)).toThrow(QueueClosedError);
  });

  it('merge over an idle queue stops as soon as the other source ends (stopOnFirst) or the consumer breaks', async () => {
    const idle = new AsyncQueue<number>();
    expect(await gather(merge([dequeue(idle), streamContent([1])], { stopOnFirst: true }))).toEqual([1]);
    const other = new AsyncQueue<number>();
    for await (const item of merge([dequeue(other), streamContent([1])])) if (item === 1) break;
    expect(() => other.put(1)).toThrow(QueueClosedError);
  });

  it('a consumer that stops while enqueue waits for its source stops the source at once', async () => {
    const queue = new AsyncQueue<number>();
    let returned = false;
    const silent = endlessStream<number>();
    const source: AsyncIterable<number> = {
      [Symbol.asyncIterator]: () => {
        const inner = silent[Symbol.asyncIterator]();
        return {
          next: () => inner.next(),
          return: async () => {
            returned = true;
            return (await inner.return?.()) ?? { done: true, value: undefined };
          },
        };
      },
    };
    const done = enqueue(source, queue);
    const reader = queue[Symbol.asyncIterator]();
    const read = reader.next();
    await reader.return?.();
    await done;
    expect(returned).toBe(true);
    expect((await read).done).toBe(true);
  });
});
