import type { AsyncIterableX } from '@reactivex/ix-esnext-esm/Ix.asynciterable';
import { fromIterator } from './iterable.ts';
import { markPrompt } from './stop.ts';

export interface StreamContentOptions {
  /** Wait this long (global `setTimeout`, so fake timers drive it) between items. */
  delayMs?: number;
  /** Also wait before the first item. Default false. */
  delayFirst?: boolean;
  /** Also wait after the last item before ending. Default true. */
  delayEnd?: boolean;
  signal?: AbortSignal;
}

/**
 * Yields `items` in order, with `delayMs` between them (after the last too, unless `delayEnd: false`;
 * before the first with `delayFirst`). Built for tests: delays use the global `setTimeout`, so
 * vitest fake timers drive it in virtual time. Stopping (break/`return()`) clears the pending timer
 * and ends at once; an abort rejects the pending read with `signal.reason`.
 */
export function streamContent<T>(items: Iterable<T>, options: StreamContentOptions = {}): AsyncIterableX<T> {
  const delayMs = options.delayMs ?? 0;
  if (!(delayMs >= 0) || !Number.isFinite(delayMs)) {
    throw new RangeError(`streamContent: delayMs must be a finite number >= 0, got ${String(options.delayMs)}`);
  }
  return fromIterator(() => new ContentIterator(items[Symbol.iterator](), delayMs, options));
}

/** Yields nothing and never ends by itself: only `return()` (done) or an abort (rejects with `signal.reason`) end it. */
export function endlessStream<T = never>(options: { signal?: AbortSignal } = {}): AsyncIterableX<T> {
  return fromIterator(() => new ContentIterator<T>(undefined, 0, { signal: options.signal }));
}

const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });

/**
 * Not a generator on purpose: a native generator cannot be stopped while it awaits a timer
 * (its `return()` queues behind the pending `next()`), and stopping promptly is the point.
 */
class ContentIterator<T> implements AsyncIterator<T> {
  readonly #items: Iterator<T> | undefined;
  readonly #delayMs: number;
  readonly #delayFirst: boolean;
  readonly #delayEnd: boolean;
  readonly #signal: AbortSignal | undefined;
  #started = false;
  #done = false;
  #peeked: IteratorResult<T> | undefined;
  #pending: { resolve: (r: IteratorResult<T>) => void; reject: (e: unknown) => void } | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  readonly #onAbort = () => {
    const pending = this.#pending;
    this.#finish();
    pending?.reject(this.#signal!.reason);
  };

  constructor(items: Iterator<T> | undefined, delayMs: number, options: StreamContentOptions) {
    this.#items = items;
    this.#delayMs = delayMs;
    this.#delayFirst = options.delayFirst ?? false;
    this.#delayEnd = options.delayEnd ?? true;
    this.#signal = options.signal;
    this.#signal?.addEventListener('abort', this.#onAbort, { once: true });
  }

  next(): Promise<IteratorResult<T>> {
    if (this.#signal?.aborted) {
      this.#finish();
      return Promise.reject(this.#signal.reason);
    }
    if (this.#done) return Promise.resolve(DONE);
    if (this.#pending)
      return Promise.reject(new TypeError('streamContent: next() called before the previous one settled'));
    if (this.#items === undefined) return this.#wait(undefined);
    const first = !this.#started;
    this.#started = true;
    const next = this.#peeked ?? this.#items.next();
    this.#peeked = undefined;
    const wait = this.#delayMs > 0 && (first ? this.#delayFirst : !next.done || this.#delayEnd);
    if (next.done) {
      if (!wait) {
        this.#finish();
        return Promise.resolve(DONE);
      }
      this.#peeked = next;
    }
    if (!wait) return Promise.resolve(next);
    return this.#wait(next);
  }

  #wait(result: IteratorResult<T> | undefined): Promise<IteratorResult<T>> {
    return new Promise((resolve, reject) => {
      this.#pending = { resolve, reject };
      if (result === undefined) return;
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#pending = undefined;
        if (result.done) this.#finish();
        resolve(result);
      }, this.#delayMs);
    });
  }

  return(): Promise<IteratorResult<T>> {
    const pending = this.#pending;
    this.#finish();
    pending?.resolve(DONE);
    return Promise.resolve(DONE);
  }

  #finish(): void {
    this.#done = true;
    this.#pending = undefined;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#signal?.removeEventListener('abort', this.#onAbort);
  }
}

// return() ends a pending read at once.
markPrompt(ContentIterator.prototype);
