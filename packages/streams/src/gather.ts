import { onAbort, throwIfAborted } from './abort.ts';
import { stopSource } from './stop.ts';

/**
 * Collects every item of `source` into an array, in order.
 * An error from the source rejects with that error; an abort stops the source and rejects
 * with `signal.reason` at once, even while a read is pending (a source still blocked in that read
 * by the event loop's next turn is returned but not waited for).
 */
export async function gather<T>(source: AsyncIterable<T>, options: { signal?: AbortSignal } = {}): Promise<T[]> {
  const { signal } = options;
  throwIfAborted(signal);
  const items: T[] = [];
  const iterator = source[Symbol.asyncIterator]();
  if (!signal) {
    while (true) {
      const result = await iterator.next();
      if (result.done) return items;
      items.push(result.value);
    }
  }
  let rejectAbort: ((reason: unknown) => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    rejectAbort = reject;
  });
  aborted.catch(() => {});
  const removeAbort = onAbort(signal, (reason) => rejectAbort!(reason));
  let done = false;
  let reading = false;
  try {
    while (true) {
      reading = true;
      const result = await Promise.race([iterator.next(), aborted]);
      reading = false;
      if (result.done) {
        done = true;
        return items;
      }
      items.push(result.value);
    }
  } catch (error) {
    if (error !== signal.reason) done = true;
    throw error;
  } finally {
    removeAbort();
    if (!done) {
      const outcome = await stopSource(iterator, reading);
      if (outcome !== undefined && outcome !== 'abandoned') throw outcome.error;
    }
  }
}
