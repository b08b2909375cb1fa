import type { AsyncIterableX } from '@reactivex/ix-esnext-esm/Ix.asynciterable';
import { Fifo } from './fifo.ts';
import { DEFAULT_HIGH_WATER_MARK, fromIterator, interruptible } from './iterable.ts';
import { stopSources } from './stop.ts';

/**
 * Yields all of source 0's items, then all of source 1's, and so on.
 * Concurrency: every source is read from the start, each into its own buffer of 64 items
 * (a later source never runs more than 64 items ahead). The first error from any source
 * stops the others and is thrown at once; an early stop (break/`return()`) stops every source.
 * Stopping acts at once, even while the consumer's `next()` is pending; a source blocked in a read
 * that does not end by the event loop's next turn is returned but not waited for (its `finally`
 * runs when its pending await settles).
 */
export function concat<T>(...sources: AsyncIterable<T>[]): AsyncIterableX<T> {
  return fromIterator(() => {
    const control = { interrupt: noop };
    return interruptible(concatGenerator(sources, control), () => control.interrupt());
  });
}

function noop(): void {}

interface Lane<T> {
  iterator: AsyncIterator<T> | undefined;
  /** A `next()` of the iterator is in flight. */
  reading: boolean;
  buffer: Fifo<T>;
  done: boolean;
  room: (() => void) | undefined;
}

async function* concatGenerator<T>(sources: AsyncIterable<T>[], control: { interrupt: () => void }): AsyncGenerator<T> {
  const lanes: Lane<T>[] = [];
  let failure: { error: unknown } | undefined;
  let stopped = false;
  /** The consumer returned this iterator, possibly while its `next()` was pending. */
  let interrupted = false;
  let wake: (() => void) | undefined;
  const notify = () => {
    const resolve = wake;
    if (resolve) {
      wake = undefined;
      resolve();
    }
  };
  control.interrupt = () => {
    interrupted = true;
    notify();
  };

  const pump = async (lane: Lane<T>) => {
    const iterator = lane.iterator!;
    try {
      while (!stopped) {
        lane.reading = true;
        const result = await iterator.next();
        lane.reading = false;
        if (result.done || stopped) break;
        lane.buffer.push(result.value);
        notify();
        if (lane.buffer.length >= DEFAULT_HIGH_WATER_MARK) {
          await new Promise<void>((resolve) => {
            lane.room = resolve;
          });
        }
      }
    } catch (error) {
      if (!stopped && !failure) failure = { error };
    } finally {
      lane.reading = false;
      lane.iterator = undefined;
      lane.done = true;
      notify();
    }
  };

  try {
    for (const source of sources) {
      lanes.push({
        iterator: source[Symbol.asyncIterator](),
        reading: false,
        buffer: new Fifo<T>(),
        done: false,
        room: undefined,
      });
    }
    for (const lane of lanes) void pump(lane);
    for (const lane of lanes) {
      while (true) {
        if (interrupted) return;
        if (failure) throw failure.error;
        if (lane.buffer.length > 0) {
          const item = lane.buffer.shift() as T;
          const room = lane.room;
          if (room) {
            lane.room = undefined;
            room();
          }
          yield item;
          continue;
        }
        if (lane.done) break;
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
    }
    if (failure) throw failure.error;
  } finally {
    stopped = true;
    for (const lane of lanes) lane.room?.();
    const stopError = await stopSources(
      lanes.map((lane) => lane.iterator),
      (i) => lanes[i]!.reading,
    );
    if (stopError && !failure) throw stopError.error;
  }
}
