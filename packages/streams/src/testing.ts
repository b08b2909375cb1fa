import type { AsyncIterableX } from '@reactivex/ix-esnext-esm/Ix.asynciterable';
import { fromIterator } from './iterable.ts';

export { endlessStream, streamContent } from './content.ts';

/** What `tracked()` saw of its source: how many items were pulled and whether it was stopped. */
export interface Tracker {
  /** Items handed to the consumer. */
  readonly pulled: number;
  /** The source generator's `finally` ran (it ended, failed or was returned). */
  readonly closed: boolean;
  /** The consumer stopped it early with `return()`. */
  readonly returned: boolean;
}

/**
 * Wraps `items` (optionally yielded with `delayMs` between them, and then failing with `error`)
 * in a generator that records whether its `finally` ran, so a test can assert that stopping a
 * pipeline stopped this source.
 */
export function tracked<T>(
  items: Iterable<T>,
  options: { delayMs?: number; error?: unknown; endless?: boolean } = {},
): AsyncIterableX<T> & { readonly tracker: Tracker } {
  const tracker = { pulled: 0, closed: false, returned: false };
  const stream = fromIterator(() => {
    const generator = (async function* () {
      try {
        for (;;) {
          for (const item of items) {
            if (options.delayMs) await new Promise((resolve) => setTimeout(resolve, options.delayMs));
            tracker.pulled++;
            yield item;
          }
          if (!options.endless) break;
          await new Promise((resolve) => setTimeout(resolve, options.delayMs ?? 0));
        }
        if (options.error !== undefined) throw options.error;
      } finally {
        tracker.closed = true;
      }
    })();
    const originalReturn = generator.return.bind(generator);
    generator.return = (value) => {
      tracker.returned = true;
      return originalReturn(value);
    };
    return generator;
  });
  return Object.assign(stream, { tracker: tracker as Tracker });
}
