import type { AsyncIterableX } from '@reactivex/ix-esnext-esm/Ix.asynciterable';
import { SluiceError } from './errors.ts';
import { Fifo } from './fifo.ts';
import { checkHighWaterMark, fromIterator } from './iterable.ts';
import { markPrompt, stopSource } from './stop.ts';

/** Thrown by `AsyncQueue.put()` once the queue no longer accepts items. */
export class QueueClosedError extends SluiceError {
  override name = 'QueueClosedError';
  /** 'E_QUEUE_CLOSED' after `close()`/`fail()`; 'E_QUEUE_CANCELLED' after a consumer stopped early. */
  declare readonly code: 'E_QUEUE_CLOSED' | 'E_QUEUE_CANCELLED';
  constructor(code: 'E_QUEUE_CLOSED' | 'E_QUEUE_CANCELLED') {
    const hint = code === 'E_QUEUE_CLOSED' ? 'create a new queue for a new stream' : 'stop producing';
    super(
      code,
      code === 'E_QUEUE_CLOSED'
        ? `AsyncQueue: put() after close() or fail(); ${hint}`
        : `AsyncQueue: the consumer stopped reading (break/return), so put() has nowhere to go; ${hint}`,
      { hint },
    );
  }
}

interface PendingPut<T> {
  item: T;
  resolve: () => void;
  reject: (error: unknown) => void;
}

const RESOLVED = Promise.resolve();
const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });
/** Internal: lets `enqueue` stop its source the moment a consumer cancels the queue. */
const ON_CANCEL = Symbol('AsyncQueue.onCancel');

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
  readonly #cancelListeners = new Set<() => void>();

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

  /**
   * A reader of the queue. A plain iterator rather than a generator, so that `return()` acts at
   * once even while a `next()` waits for an item: that read then ends (done) and the queue is
   * cancelled. Several readers share the items (each item goes to one of them).
   */
  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    let finished = false;
    let pending: { resolve: (result: IteratorResult<T>) => void; reject: (error: unknown) => void } | undefined;
    let waiting: Promise<IteratorResult<T>> | undefined;
    /** The next result if one is ready now, else undefined. */
    const step = (): IteratorResult<T> | { error: unknown } | undefined => {
      if (this.#buffer.length > 0) {
        const item = this.#buffer.shift() as T;
        const put = this.#puts.shift();
        if (put) {
          this.#buffer.push(put.item);
          put.resolve();
        }
        return { done: false, value: item };
      }
      if (this.#failure) {
        finished = true;
        return { error: this.#failure.error };
      }
      if (this.#closed || this.#cancelled) {
        finished = true;
        return DONE;
      }
      return undefined;
    };
    const wake = () => {
      if (!pending) return;
      const result = step();
      if (result === undefined) {
        this.#takers.push(wake);
        return;
      }
      const { resolve, reject } = pending;
      pending = undefined;
      waiting = undefined;
      if ('error' in result) reject(result.error);
      else resolve(result);
    };
    const next = (): Promise<IteratorResult<T>> => {
      if (waiting) return waiting.then(next, next);
      if (finished) return Promise.resolve(DONE);
      const result = step();
      if (result !== undefined) return 'error' in result ? Promise.reject(result.error) : Promise.resolve(result);
      waiting = new Promise<IteratorResult<T>>((resolve, reject) => {
        pending = { resolve, reject };
      });
      this.#takers.push(wake);
      return waiting;
    };
    const iterator: AsyncIterableIterator<T> = markPrompt({
      next,
      return: (): Promise<IteratorResult<T>> => {
        if (!finished) {
          finished = true;
          this.#cancel();
        }
        const read = pending;
        pending = undefined;
        waiting = undefined;
        read?.resolve(DONE);
        return Promise.resolve(DONE);
      },
      [Symbol.asyncIterator]: () => iterator,
    });
    return iterator;
  }

  /** Calls `listener` once when a consumer cancels the queue; returns a function removing it. */
  [ON_CANCEL](listener: () => void): () => void {
    if (this.#cancelled) {
      listener();
      return () => {};
    }
    this.#cancelListeners.add(listener);
    return () => this.#cancelListeners.delete(listener);
  }

  #cancel(): void {
    if (this.#cancelled) return;
    this.#cancelled = true;
    this.#buffer.clear();
    const error = new QueueClosedError('E_QUEUE_CANCELLED');
    for (let put = this.#puts.shift(); put; put = this.#puts.shift()) put.reject(error);
    this.#wakeAll();
    const listeners = [...this.#cancelListeners];
    this.#cancelListeners.clear();
    for (const listener of listeners) listener();
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
 * the promise resolves (without waiting for a source still blocked in a read by the event loop's
 * next turn: that source is returned, and its `finally` runs when its pending await settles).
 * (The returned promise never causes an unhandled rejection on its own: the error also reaches
 * the queue's consumers.)
 */
export function enqueue<T>(source: AsyncIterable<T>, queue: AsyncQueue<T>): Promise<void> {
  const done = new Promise<void>((resolve, reject) => {
    const iterator = source[Symbol.asyncIterator]();
    /** A `next()` of the source is in flight. */
    let reading = false;
    let removeCancel: () => void = noop;
    // A consumer that stops while the source is between items, or blocked in a read, stops the
    // source at once (a source that can end a pending read, such as streamContent or an HTTP body,
    // then ends it); the promise resolves without waiting for a source still blocked in that read
    // by the event loop's next turn.
    let stopping: Promise<void> | undefined;
    const stop = (): Promise<void> => {
      stopping ??= Promise.resolve()
        .then(() => stopSource(iterator, reading))
        .then(() => {
          removeCancel();
          resolve();
        });
      return stopping;
    };
    removeCancel = queue[ON_CANCEL](() => void stop());
    const loop = async () => {
      while (true) {
        reading = true;
        let result: IteratorResult<T>;
        try {
          result = await iterator.next();
        } finally {
          reading = false;
        }
        if (stopping) return;
        if (result.done) break;
        try {
          await queue.put(result.value);
        } catch (error) {
          if (error instanceof QueueClosedError && error.code === 'E_QUEUE_CANCELLED') {
            await stop();
            return;
          }
          await iterator.return?.();
          throw error;
        }
      }
      removeCancel();
      queue.close();
      resolve();
    };
    loop().catch((error: unknown) => {
      // The consumer stopped first: what the stopped source threw goes nowhere.
      if (stopping) return;
      removeCancel();
      queue.fail(error);
      reject(error);
    });
  });
  done.catch(noop);
  return done;
}

function noop(): void {}

/** The queue's items as a stream; stopping it early cancels the queue (see `AsyncQueue`). */
export function dequeue<T>(queue: AsyncQueue<T>): AsyncIterableX<T> {
  return fromIterator(() => queue[Symbol.asyncIterator]());
}
