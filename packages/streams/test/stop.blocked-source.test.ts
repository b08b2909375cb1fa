// A source that is a user's async generator blocked in an await: stopping a combinator over it must
// complete at once (return() is called, not waited for), its finally runs when that await settles,
// and whatever it throws then is caught (vitest fails the run on an unhandled rejection).
import { setImmediate as nextTurn } from 'node:timers/promises';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  AsyncQueue,
  concat,
  dequeue,
  encodeSSE,
  endlessStream,
  enqueue,
  gather,
  merge,
  type SSEEvent,
  split,
  streamContent,
} from '../src/index.ts';
import { blockedStream } from '../src/testing.ts';

/**
 * True when `promise` settles within `turns` turns of the event loop (node:timers' own
 * setImmediate: real even under fake timers): a hang shows as false, not as a test timeout.
 */
async function settles(promise: Promise<unknown>, turns = 50): Promise<boolean> {
  let settled = false;
  const done = () => {
    settled = true;
  };
  promise.then(done, done);
  return until(() => settled, turns);
}

/** True once `condition` holds, checked after each of at most `turns` turns of the event loop. */
async function until(condition: () => boolean, turns = 50): Promise<boolean> {
  for (let i = 0; i < turns && !condition(); i++) await nextTurn();
  return condition();
}

async function firstThenBreak<T>(stream: AsyncIterable<T>): Promise<T[]> {
  const seen: T[] = [];
  for await (const item of stream) {
    seen.push(item);
    break;
  }
  return seen;
}

afterEach(() => {
  vi.useRealTimers();
});

describe('stopping over a source blocked in a read', () => {
  it('merge: break completes; the source was returned; its finally runs when its await settles', async () => {
    const source = blockedStream(['a']);
    const other = endlessStream<string>();
    const run = firstThenBreak(merge([source, other]));
    await source.reached;
    expect(await settles(run)).toBe(true);
    expect(await run).toEqual(['a']);
    expect(source.returned).toBe(true);
    expect(source.closed).toBe(false);
    source.release();
    expect(await until(() => source.closed)).toBe(true);
  });

  it('merge: the issue’s shape (yield* endlessStream after the first item) does not hang a break', async () => {
    const input = (async function* () {
      yield 'first';
      yield* endlessStream<string>();
    })();
    const run = firstThenBreak(merge([input]));
    expect(await settles(run)).toBe(true);
    expect(await run).toEqual(['first']);
  });

  it('merge: a return() while the consumer’s next() is pending ends that read at once', async () => {
    const source = blockedStream<string>([]);
    const iterator = merge([source])[Symbol.asyncIterator]();
    const read = iterator.next();
    await source.reached;
    const stopped = iterator.return!();
    expect(await settles(stopped)).toBe(true);
    expect(await read).toEqual({ done: true, value: undefined });
    expect(source.returned).toBe(true);
  });

  it('merge: what a left-behind source throws later is caught, not an unhandled rejection', async () => {
    const source = blockedStream(['a']);
    const run = firstThenBreak(merge([source]));
    await source.reached;
    expect(await settles(run)).toBe(true);
    source.fail(new Error('late failure'));
    expect(await until(() => source.closed)).toBe(true);
  });

  it('merge: an abort rejects at once with signal.reason', async () => {
    const source = blockedStream<string>([]);
    const controller = new AbortController();
    const run = gather(merge([source], { signal: controller.signal }));
    await source.reached;
    const reason = new Error('leave');
    controller.abort(reason);
    expect(await settles(run)).toBe(true);
    await expect(run).rejects.toBe(reason);
    expect(source.returned).toBe(true);
  });

  it('concat: break completes while a later source is blocked', async () => {
    const later = blockedStream(['b']);
    const run = firstThenBreak(concat(streamContent(['a']), later));
    await later.reached;
    expect(await settles(run)).toBe(true);
    expect(await run).toEqual(['a']);
    expect(later.returned).toBe(true);
    later.release();
    expect(await until(() => later.closed)).toBe(true);
  });

  it('concat: a return() while the consumer’s next() is pending ends that read at once', async () => {
    const source = blockedStream<string>([]);
    const iterator = concat(source)[Symbol.asyncIterator]();
    const read = iterator.next();
    await source.reached;
    expect(await settles(iterator.return!())).toBe(true);
    expect(await read).toEqual({ done: true, value: undefined });
    expect(source.returned).toBe(true);
  });

  it('split: when every branch stops, the blocked source is returned without waiting for it', async () => {
    const source = blockedStream(['a']);
    const [left, right] = split(source);
    const both = Promise.all([firstThenBreak(left!), firstThenBreak(right!)]);
    expect(await settles(both)).toBe(true);
    expect(await both).toEqual([['a'], ['a']]);
    expect(source.returned).toBe(true);
    source.release();
    expect(await until(() => source.closed)).toBe(true);
  });

  it('split: a branch returned while its next() is pending ends that read at once', async () => {
    const source = blockedStream<string>([]);
    const [only] = split(source, { n: 1, signal: new AbortController().signal });
    const iterator = only![Symbol.asyncIterator]();
    const read = iterator.next();
    await source.reached;
    expect(await settles(iterator.return!())).toBe(true);
    expect(await read).toEqual({ done: true, value: undefined });
    expect(source.returned).toBe(true);
  });

  it('gather: an abort rejects at once with signal.reason while the source is blocked', async () => {
    const source = blockedStream(['a']);
    const controller = new AbortController();
    const run = gather(source, { signal: controller.signal });
    await source.reached;
    const reason = new Error('leave');
    controller.abort(reason);
    expect(await settles(run)).toBe(true);
    await expect(run).rejects.toBe(reason);
    expect(source.returned).toBe(true);
  });

  it('enqueue: resolves once the consumer stops, while its source is blocked', async () => {
    const source = blockedStream(['a']);
    const queue = new AsyncQueue<string>();
    const producing = enqueue(source, queue);
    expect(await firstThenBreak(dequeue(queue))).toEqual(['a']);
    await source.reached;
    expect(await settles(producing)).toBe(true);
    expect(source.returned).toBe(true);
  });

  it('encodeSSE with heartbeats: break after a ping completes while the source is blocked', async () => {
    vi.useFakeTimers();
    const source = blockedStream<SSEEvent>([]);
    const iterator = encodeSSE(source, { heartbeatMs: 1000 })[Symbol.asyncIterator]();
    const ping = iterator.next();
    await source.reached;
    await vi.advanceTimersByTimeAsync(1000);
    expect(new TextDecoder().decode((await ping).value)).toBe(': ping\n\n');
    expect(await settles(iterator.return!())).toBe(true);
    expect(source.returned).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('encodeSSE with heartbeats: a return() while waiting for an event ends that wait at once', async () => {
    vi.useFakeTimers();
    const source = blockedStream<SSEEvent>([]);
    const iterator = encodeSSE(source, { heartbeatMs: 1000 })[Symbol.asyncIterator]();
    const read = iterator.next();
    await source.reached;
    expect(await settles(iterator.return!())).toBe(true);
    expect((await read).done).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });
});
