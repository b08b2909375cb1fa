import type { AsyncIterableX } from '@reactivex/ix-esnext-esm/Ix.asynciterable';
import { onAbort } from './abort.ts';
import { Fifo } from './fifo.ts';
import { asIterableX, checkHighWaterMark, fromIterator, interruptible } from './iterable.ts';
import { stopSource as stopIterator } from './stop.ts';

export interface SplitOptions<T> {
  /** Number of branches (default 2); `n < 1` is a RangeError. */
  n?: number;
  /** `true` deep-copies each item per branch with `structuredClone`; a function makes the copy itself. */
  copy?: boolean | ((item: T) => T);
  /** Items a branch may hold unread before the source waits for it (default 64). */
  highWaterMark?: number;
  signal?: AbortSignal;
}

interface Branch<T> {
  buffer: Fifo<T>;
  started: boolean;
  active: boolean;
  /** Its consumer returned it, possibly while its `next()` was pending. */
  interrupted: boolean;
  wake: (() => void) | undefined;
}

/**
 * Returns `n` streams that each yield every item of `source`, in order.
 * Concurrency: one reader pulls the source as long as every live branch has room in its buffer,
 * so an unread branch blocks the others only once it holds `highWaterMark` items.
 * A branch stopping early does not stop the others; the source is stopped when every branch has
 * stopped. A source error reaches every branch after its buffered items; an abort rejects every
 * branch with `signal.reason` at once, after the source was stopped. Stopping a branch acts at
 * once, even while its `next()` is pending; a source blocked in a read that does not end by the
 * event loop's next turn is returned but not waited for (its `finally` runs when its pending await
 * settles).
 */
export function split<T>(source: AsyncIterable<T>, options: SplitOptions<T> = {}): AsyncIterableX<T>[] {
  const n = options.n ?? 2;
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`split: n must be an integer >= 1, got ${String(n)}`);
  const highWaterMark = checkHighWaterMark(options.highWaterMark, 'split');
  if (n === 1 && !options.signal) return [asIterableX(source)];
  const copy: ((item: T) => T) | undefined =
    options.copy === true ? (item) => structuredClone(item) : options.copy === false ? undefined : options.copy;

  const branches: Branch<T>[] = [];
  for (let i = 0; i < n; i++)
    branches.push({ buffer: new Fifo<T>(), started: false, active: true, interrupted: false, wake: undefined });
  let iterator: AsyncIterator<T> | undefined;
  /** A `next()` of the source is in flight. */
  let reading = false;
  let pumping = false;
  let sourceDone = false;
  let failure: { error: unknown } | undefined;
  let aborted: { reason: unknown } | undefined;
  let stopping: Promise<void> | undefined;
  let room: (() => void) | undefined;

  const wakeAll = () => {
    for (const branch of branches) {
      const wake = branch.wake;
      branch.wake = undefined;
      wake?.();
    }
  };
  const releaseRoom = () => {
    const resolve = room;
    room = undefined;
    resolve?.();
  };
  const blocked = () => branches.some((b) => b.active && b.buffer.length >= highWaterMark);
  const stopSource = (): Promise<void> => {
    if (!stopping) {
      stopping = (async () => {
        releaseRoom();
        const it = iterator;
        iterator = undefined;
        if (it && !sourceDone) {
          const outcome = await stopIterator(it, reading);
          if (outcome !== undefined && outcome !== 'abandoned' && !failure) failure = { error: outcome.error };
        }
      })();
    }
    return stopping;
  };

  const pump = async () => {
    try {
      iterator = source[Symbol.asyncIterator]();
      while (true) {
        while (blocked() && !stopping) {
          await new Promise<void>((resolve) => {
            room = resolve;
          });
        }
        if (stopping || !iterator) return;
        reading = true;
        const result = await iterator.next();
        reading = false;
        if (stopping) return;
        if (result.done) {
          sourceDone = true;
          break;
        }
        for (const branch of branches) {
          if (!branch.active) continue;
          let item: T;
          try {
            item = copy ? copy(result.value) : result.value;
          } catch (error) {
            // The copy failed, not the source: every branch sees that error and the source is stopped.
            if (!failure) failure = { error };
            await stopSource();
            return;
          }
          branch.buffer.push(item);
          const wake = branch.wake;
          branch.wake = undefined;
          wake?.();
        }
      }
    } catch (error) {
      reading = false;
      sourceDone = true;
      if (!failure && !stopping) failure = { error };
    } finally {
      wakeAll();
    }
  };

  const removeAbort = onAbort(options.signal, (reason) => {
    if (!aborted) aborted = { reason };
    void stopSource();
    wakeAll();
  });

  async function* read(branch: Branch<T>): AsyncGenerator<T> {
    if (branch.started) throw new TypeError('split: each branch can be iterated only once');
    branch.started = true;
    if (!pumping) {
      pumping = true;
      void pump();
    }
    try {
      while (!branch.interrupted) {
        if (aborted) {
          await stopSource();
          throw aborted.reason;
        }
        if (branch.buffer.length > 0) {
          const item = branch.buffer.shift() as T;
          if (room && !blocked()) releaseRoom();
          yield item;
          continue;
        }
        if (failure) throw failure.error;
        if (sourceDone || stopping) return;
        await new Promise<void>((resolve) => {
          branch.wake = resolve;
        });
      }
    } finally {
      branch.active = false;
      branch.buffer.clear();
      if (branches.every((b) => !b.active)) {
        removeAbort();
        await stopSource();
      } else if (room && !blocked()) {
        releaseRoom();
      }
    }
  }

  return branches.map((branch) =>
    fromIterator(() =>
      interruptible(read(branch), () => {
        branch.interrupted = true;
        const wake = branch.wake;
        branch.wake = undefined;
        wake?.();
      }),
    ),
  );
}
