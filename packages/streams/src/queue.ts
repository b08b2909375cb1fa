import type { AsyncIterableX } from '@reactivex/ix-esnext-esm/Ix.asynciterable';
import { Fifo } from './fifo.ts';
import { checkHighWaterMark, fromIterator } from './iterable.ts';

/** Thrown by `AsyncQueue.put()` once the queue no longer accepts items. */
export class QueueClosedError extends Error {
  override name = 'QueueClosedError';
  /** 'E_QUEUE_CLOSED' after `close()`/`fail()`; 'E_QUEUE_CANCELLED' after a consumer stopped early. */
  readonly code: 'E_QUEUE_CLOSED' | 'E_QUEUE_CANCELLED';
  constructor(code: 'E_QUEUE_CLOSED' | 'E_QUEUE_CANCELLED') {
    super(
      code === 'E_QUEUE_CLOSED'
        ? 'AsyncQueue: put() after close() or fail(); create a new queue for a new stream'
        : 'AsyncQueue: the consumer stopped reading (break/return), so put() has nowhere to go; stop producing',
    );
    this.code = code;
  }
}

interface PendingPut<T> {
  item: T;
  resolve: () => void;
  reject: (error: unknown) => void;
}

const RESOLVED = Promise.resolve();

/**
 * A bounded FIFO between producers and consumers (default `highWaterMark` 64 items; `Infinity` allowed).
 * `put()` resolves once its item is in the buffer; consumers drain the buffer, then finish after
 * `close()` or throw the error given to `fail()`. A consumer that stops early (break/`return()`)
 * cancels the queue: buffered items are dropped and pending and later `put()` calls reject with
 * `QueueClosedError` (code 'E_QUEUE_CANCELLED'), so producers stop.
 */
export class AsyncQueue<T> implements AsyncIterable<T> {
  readonly #buffer = new Fifo<T>();
  readonly #highWaterMark: number;
  readonly #puts = new Fifo<PendingPut<T>>();
  #takers: (() => void)[] = [];
  #closed = false;
  #cancelled = false;
  #failure: { error: unknown } | undefined;

  constructor(options: { highWaterMark?: number } = {}) {
    this.#highWaterMark = checkHighWaterMark(options.highWaterMark, 'AsyncQueue');
  }

  /** Items in the buffer (not counting puts still waiting for room). */
  get size(): number {
    return this.#buffer.length;
  }

  /** Adds `item`; resolves when it is in the buffer. Throws `QueueClosedError` after `close()`/`fail()`. */
  put(item: T): Promise<void> {
    if (this.#cancelled) throw new QueueClosedError('E_QUEUE_CANCELLED');
    if (this.#closed || this.#failure) throw new QueueClosedError('E_QUEUE_CLOSED');
    if (this.#buffer.length < this.#highWaterMark) {
      this.#buffer.push(item);
      this.#wake();
      return RESOLVED;
    }
    return new Promise<void>((resolve, reject) => this.#puts.push({ item, resolve, reject }));
  }

  /** No more items: consumers finish once the buffer (and waiting puts) are drained. */
  close(): void {
    this.#closed = true;
    this.#wakeAll();
  }

  /** Consumers throw `error` once the buffer is drained. */
  fail(error: unknown): void {
    if (!this.#failure) this.#failure = { error };
    this.#wakeAll();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    let finished = false;
    try {
      while (true) {
        if (this.#buffer.length > 0) {
          const item = this.#buffer.shift() as T;
          const waiting = this.#puts.shift();
          if (waiting) {
            this.#buffer.push(waiting.item);
            waiting.resolve();
          }
          yield item;
          continue;
        }
        if (this.#failure) {
          finished = true;
          throw this.#failure.error;
        }
        if (this.#closed || this.#cancelled) {
          finished = true;
          return;
        }
        await new Promise<void>((resolve) => this.#takers.push(resolve));
      }
    } finally {
      if (!finished) this.#cancel();
    }
  }

  #cancel(): void {
    this.#cancelled = true;
    this.#buffer.clear();
    const error = new QueueClosedError('E_QUEUE_CANCELLED');
    for (let put = this.#puts.shift(); put; put = this.#puts.shift()) put.reject(error);
    this.#wakeAll();
  }

  #wake(): void {
    this.#takers.shift()?.();
  }

  #wakeAll(): void {
    const takers = this.#takers;
    this.#takers = [];
    for (const resolve of takers) resolve();
  }
}

/**
 * Puts every item of `source` into `queue`, then closes it. Ordering: source order; one item
 * at a time, waiting for room. When the source throws, the queue is failed with that error and
 * the promise rejects with it; when the queue's consumer stops early, the source is stopped and
 * the promise resolves. (The returned promise never causes an unhandled rejection on its own:
 * the error also reaches the queue's consumers.)
 */
export function enqueue<T>(source: AsyncIterable<T>, queue: AsyncQueue<T>): Promise<void> {
  const done = (async () => {
    const iterator = source[Symbol.asyncIterator]();
    try {
      while (true) {
        const result = await iterator.next();
        if (result.done) break;
        try {
          await queue.put(result.value);
        } catch (error) {
          await iterator.return?.();
          if (error instanceof QueueClosedError && error.code === 'E_QUEUE_CANCELLED') return;
          throw error;
        }
      }
      queue.close();
    } catch (error) {
      queue.fail(error);
      throw error;
    }
  })();
  done.catch(() => {});
  return done;
}

/** The queue's items as a stream; stopping it early cancels the queue (see `AsyncQueue`). */
export function dequeue<T>(queue: AsyncQueue<T>): AsyncIterableX<T> {
  return fromIterator(() => queue[Symbol.asyncIterator]());
}
