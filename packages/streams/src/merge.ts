import type { AsyncIterableX } from '@reactivex/ix-esnext-esm/Ix.asynciterable';
import { onAbort, throwIfAborted } from './abort.ts';
import { Fifo } from './fifo.ts';
import { checkHighWaterMark, fromIterator, interruptible } from './iterable.ts';
import { stopSources } from './stop.ts';

export interface MergeOptions {
  /** End as soon as the first source ends (the others are then stopped). Default false. */
  stopOnFirst?: boolean;
  /** Items buffered ahead of the consumer across all sources (default 64; each source may hold one more). */
  highWaterMark?: number;
  signal?: AbortSignal;
}

/**
 * Interleaves the sources' items in order of availability, keeping each source's own order.
 * Concurrency: every source is read at once, O(1) work per item whatever the number of sources.
 * Ends when all sources end (or the first, with `stopOnFirst`). On early stop, an error in a source
 * or an abort, the remaining sources are stopped (`return()`, their `finally` blocks run) before
 * the consumer sees the first error or `signal.reason`. Stopping acts at once, even while the
 * consumer's `next()` is pending; a source blocked in a read that does not end by the event loop's
 * next turn is returned but not waited for (its `finally` runs when its pending await settles).
 */
export function merge<T>(sources: Iterable<AsyncIterable<T>>, options: MergeOptions = {}): AsyncIterableX<T> {
  const list = Array.from(sources);
  const highWaterMark = checkHighWaterMark(options.highWaterMark, 'merge');
  return fromIterator(() => {
    const control = { interrupt: noop };
    return interruptible(mergeGenerator(list, highWaterMark, options, control), () => control.interrupt());
  });
}

function noop(): void {}

async function* mergeGenerator<T>(
  sources: AsyncIterable<T>[],
  highWaterMark: number,
  { stopOnFirst = false, signal }: MergeOptions,
  control: { interrupt: () => void },
): AsyncGenerator<T> {
  throwIfAborted(signal);
  const iterators: (AsyncIterator<T> | undefined)[] = [];
  /** Source i has a `next()` in flight. */
  const reading: boolean[] = [];
  /** The consumer returned this iterator, possibly while its `next()` was pending. */
  let interrupted = false;
  const buffer = new Fifo<T>();
  const room: (() => void)[] = [];
  let active = sources.length;
  let firstEnded = false;
  let failure: { error: unknown } | undefined;
  let stopped = false;
  let wake: (() => void) | undefined;
  const notify = () => {
    const resolve = wake;
    if (resolve) {
      wake = undefined;
      resolve();
    }
  };
  const fail = (error: unknown) => {
    if (!failure) failure = { error };
    notify();
  };
  control.interrupt = () => {
    interrupted = true;
    notify();
  };

  const pump = async (index: number) => {
    const iterator = iterators[index]!;
    try {
      while (!stopped) {
        reading[index] = true;
        const result = await iterator.next();
        reading[index] = false;
        if (result.done) {
          iterators[index] = undefined;
          firstEnded = true;
          if (stopOnFirst) {
            // The others stop pushing now; what they already buffered is still delivered.
            stopped = true;
            for (const resolve of room.splice(0)) resolve();
          }
          break;
        }
        if (stopped) break;
        buffer.push(result.value);
        notify();
        if (buffer.length >= highWaterMark) await new Promise<void>((resolve) => room.push(resolve));
      }
    } catch (error) {
      reading[index] = false;
      iterators[index] = undefined;
      if (!stopped) fail(error);
    } finally {
      active--;
      notify();
    }
  };

  const removeAbort = onAbort(signal, fail);
  try {
    for (const source of sources) {
      iterators.push(source[Symbol.asyncIterator]());
      reading.push(false);
    }
    for (let i = 0; i < iterators.length; i++) void pump(i);
    while (!interrupted) {
      if (failure) throw failure.error;
      if (buffer.length > 0) {
        const item = buffer.shift() as T;
        room.shift()?.();
        yield item;
        continue;
      }
      if (active === 0 || (stopOnFirst && firstEnded)) return;
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
  } finally {
    stopped = true;
    removeAbort();
    for (const resolve of room.splice(0)) resolve();
    const stopError = await stopSources(iterators, (i) => reading[i]!);
    buffer.clear();
    if (stopError && !failure) throw stopError.error;
  }
}
