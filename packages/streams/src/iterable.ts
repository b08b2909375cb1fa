import { AsyncIterableX } from '@reactivex/ix-esnext-esm/Ix.asynciterable';

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

/** Stops iterators that have not finished, in parallel; resolves with the first error their `return()` raised, if any. */
export async function stopAll(
  iterators: Iterable<AsyncIterator<unknown> | undefined>,
): Promise<{ error: unknown } | undefined> {
  const pending: Promise<unknown>[] = [];
  for (const it of iterators) {
    if (it && typeof it.return === 'function') pending.push(Promise.resolve().then(() => it.return!()));
  }
  if (pending.length === 0) return undefined;
  const results = await Promise.allSettled(pending);
  for (const result of results) if (result.status === 'rejected') return { error: result.reason };
  return undefined;
}
