import type { AsyncIterableX } from '@reactivex/ix-esnext-esm/Ix.asynciterable';
import { fromIterator } from './iterable.ts';
import { markPrompt } from './stop.ts';

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
 * pipeline stopped this source. Marked with `markPrompt` (its reads end by themselves within
 * `delayMs`), so stopping waits for its `finally` even while a read is pending.
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
    // Every read ends by itself (at most `delayMs` later): stopping may wait for it even while a
    // read is pending, so its `finally` has run when a consumer's break completes.
    return markPrompt(generator);
  });
  return Object.assign(stream, { tracker: tracker as Tracker });
}

/** What `blockedStream()` gives a test: the stream, and a handle on the await it is blocked in. */
export interface BlockedStream<T> extends AsyncIterable<T> {
  /** `return()` was called on its generator. */
  readonly returned: boolean;
  /** Its generator's `finally` ran. */
  readonly closed: boolean;
  /** Resolves once the generator waits at the gate (a read of it is pending from then on). */
  readonly reached: Promise<void>;
  /** Opens the gate: the pending await settles and the generator goes on (or returns, if it was asked to). */
  release(): void;
  /** Rejects the pending await: the generator throws `error`. */
  fail(error: unknown): void;
}

/**
 * A user's native async generator that yields `first`, then blocks in an await (a gate the test
 * opens with `release()` or `fail()`), then yields `after`. A native generator queues `return()`
 * behind a pending read, so a reader that waited for its `return()` while it is blocked would
 * wait until the gate opens: the case stopping must not hang on. Single use.
 */
export function blockedStream<T>(first: readonly T[], after: readonly T[] = []): BlockedStream<T> {
  let release!: () => void;
  let fail!: (error: unknown) => void;
  const gate = new Promise<void>((resolve, reject) => {
    release = resolve;
    fail = reject;
  });
  // A generator returned before it reached the gate never awaits it: fail() must not be unhandled then.
  gate.catch(() => {});
  let atGate!: () => void;
  const reached = new Promise<void>((resolve) => {
    atGate = resolve;
  });
  const state = { returned: false, closed: false };
  const generator = (async function* () {
    try {
      yield* first;
      atGate();
      await gate;
      yield* after;
    } finally {
      state.closed = true;
    }
  })();
  const close = generator.return.bind(generator);
  generator.return = (value) => {
    state.returned = true;
    return close(value);
  };
  return {
    [Symbol.asyncIterator]: () => generator,
    get returned() {
      return state.returned;
    },
    get closed() {
      return state.closed;
    },
    reached,
    release,
    fail,
  };
}
