import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { endlessStream, gather, streamContent } from '../src/index.ts';

describe('streamContent in virtual time', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  async function timesOf<T>(stream: AsyncIterable<T>): Promise<{ items: [T, number][]; end: number }> {
    const start = Date.now();
    const items: [T, number][] = [];
    const run = (async () => {
      for await (const item of stream) items.push([item, Date.now() - start]);
      return Date.now() - start;
    })();
    await vi.runAllTimersAsync();
    return { items, end: await run };
  }

  it('waits delayMs between items and after the last', async () => {
    expect(await timesOf(streamContent(['a', 'b', 'c'], { delayMs: 100 }))).toEqual({
      items: [
        ['a', 0],
        ['b', 100],
        ['c', 200],
      ],
      end: 300,
    });
  });

  it('delayFirst waits before the first item; delayEnd: false ends right after the last', async () => {
    expect(await timesOf(streamContent(['a', 'b'], { delayMs: 50, delayFirst: true, delayEnd: false }))).toEqual({
      items: [
        ['a', 50],
        ['b', 100],
      ],
      end: 100,
    });
  });

  it('stopping early clears the pending timer at once', async () => {
    const iterator = streamContent([1, 2, 3], { delayMs: 1000 })[Symbol.asyncIterator]();
    expect((await iterator.next()).value).toBe(1);
    const pending = iterator.next();
    expect(vi.getTimerCount()).toBe(1);
    await iterator.return?.();
    expect(await pending).toEqual({ done: true, value: undefined });
    expect(vi.getTimerCount()).toBe(0);
  });

  it('an abort rejects the pending read with signal.reason and clears the timer', async () => {
    const controller = new AbortController();
    const reason = new Error('stop');
    const iterator = streamContent([1, 2], { delayMs: 1000, signal: controller.signal })[Symbol.asyncIterator]();
    await iterator.next();
    const pending = iterator.next();
    controller.abort(reason);
    await expect(pending).rejects.toBe(reason);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('rejects a negative delay', () => {
    expect(() => streamContent([1], { delayMs: -1 })).toThrow(RangeError);
  });
});

describe('endlessStream', () => {
  it('yields nothing until return() ends it', async () => {
    const iterator = endlessStream()[Symbol.asyncIterator]();
    const pending = iterator.next();
    await iterator.return?.();
    expect(await pending).toEqual({ done: true, value: undefined });
  });

  it('an abort rejects with signal.reason (gather too)', async () => {
    const controller = new AbortController();
    const reason = new Error('enough');
    const result = gather(endlessStream({ signal: controller.signal }));
    controller.abort(reason);
    await expect(result).rejects.toBe(reason);
  });

  it('gather with a signal stops a source that would wait forever', async () => {
    const controller = new AbortController();
    const reason = new Error('enough');
    const result = gather(endlessStream(), { signal: controller.signal });
    queueMicrotask(() => controller.abort(reason));
    await expect(result).rejects.toBe(reason);
  });
});
