import { AsyncIterableX } from '@reactivex/ix-esnext-esm/Ix.asynciterable';
import { markPrompt } from './stop.ts';

/**
 * An `AsyncIterableX` whose iterator comes straight from a factory (a native
 * async generator in the combinators here), so no wrapper sits between the
 * consumer and the generator and every ix operator chains on the result.
 */
export class IterableStream<T> extends AsyncIterableX<T> {
  readonly #make: () => AsyncIterator<T>;
  constructor(make: () => AsyncIterator<T>) {
    super();
    this.#make = make;
  }
  [Symbol.asyncIterator](): AsyncIterator<T> {
    return this.#make();
  }
}

/** Wraps an iterator factory as an `AsyncIterableX`. */
export function fromIterator<T>(make: () => AsyncIterator<T>): AsyncIterableX<T> {
  return new IterableStream(make);
}

/** Returns `source` itself when it already is an `AsyncIterableX`, else a zero-cost view of it. */
export function asIterableX<T>(source: AsyncIterable<T>): AsyncIterableX<T> {
  if (source instanceof AsyncIterableX) return source as AsyncIterableX<T>;
  return new IterableStream(() => source[Symbol.asyncIterator]());
}

/** The default bound of every buffer in this package: 64 items. */
export const DEFAULT_HIGH_WATER_MARK = 64;

export function checkHighWaterMark(value: number | undefined, where: string): number {
  if (value === undefined) return DEFAULT_HIGH_WATER_MARK;
  if (value === Number.POSITIVE_INFINITY) return value;
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`${where}: highWaterMark must be a positive integer or Infinity, got ${String(value)}`);
  }
  return value;
}

/**
 * A generator's iterator whose `return()` first calls `interrupt`, which must make a pending
 * `next()` of the generator settle (a generator queues `return()` behind it otherwise). Marked as
 * stopping promptly (see `stopSource`).
 */
export function interruptible<T>(generator: AsyncGenerator<T>, interrupt: () => void): AsyncIterator<T> {
  return markPrompt({
    next: () => generator.next(),
    return: (value?: unknown) => {
      interrupt();
      return generator.return(value as T);
    },
    throw: (error?: unknown) => generator.throw(error),
  });
}
