/**
 * Stopping a source whose read may be pending.
 *
 * A native async generator queues `return()` behind a pending `next()`: when the generator is
 * blocked in an await that never settles (`yield* endlessStream()`), waiting for its `return()`
 * waits forever. Every reader in this package and in @sluice/core stops its sources through
 * `stopSource`, which calls `return()` at once and waits for it only when that cannot hang:
 *
 * - no read is pending (the source sits at a `yield`): `return()` runs its `finally` now; waited for;
 * - the source is one of ours (`markPrompt`): it ends a pending read as soon as it is stopped; waited for;
 * - the reader trusts the source to react to the stop (a stage that read its `ctx.signal`); waited for;
 * - otherwise the read is given until the event loop's next turn: a source that reacts to the stop
 *   within promise callbacks (it was waiting on an input that the stop ended, say) is waited for;
 *   one still blocked then is left behind. Its `finally` runs when its pending await settles, and
 *   whatever it then throws, or its `return()` rejects with, is caught and dropped.
 */

const PROMPT = Symbol.for('sluice.stopsPromptly');

type Marked = { [PROMPT]?: boolean | (() => boolean) };

/**
 * Marks `iterator` as one that ends a pending `next()` promptly once it is returned (or once the
 * stage it belongs to is stopped, which readers do first): stopping it then waits for its
 * `return()` even while a read is pending. `when` makes the mark conditional, asked at stop time.
 */
export function markPrompt<I extends object>(iterator: I, when?: () => boolean): I {
  (iterator as Marked)[PROMPT] = when ?? true;
  return iterator;
}

/** True when `iterator` was marked with `markPrompt` (and its condition holds now). */
export function stopsPromptly(iterator: unknown): boolean {
  if (typeof iterator !== 'object' || iterator === null) return false;
  const mark = (iterator as Marked)[PROMPT];
  return mark === true || (typeof mark === 'function' && mark());
}

/** What `stopSource` did: stopped (with the error `return()` threw, if any), or left behind. */
export type StopOutcome = { readonly error: unknown } | undefined | typeof ABANDONED;

/** `stopSource` left a source blocked in its read behind (its `return()` was called, not awaited). */
export const ABANDONED = 'abandoned' as const;

/**
 * Calls `iterator.return()` at once and waits for it unless that could hang (see the module
 * comment). `reading`: a `next()` of this reader is in flight. `trusted`: the reader knows the
 * source reacts to the stop (it read its stop signal). Never rejects.
 */
export function stopSource(
  iterator: AsyncIterator<unknown>,
  reading: boolean,
  trusted = false,
): Promise<StopOutcome> | undefined {
  if (typeof iterator.return !== 'function') return undefined;
  let returned: Promise<StopOutcome>;
  try {
    returned = Promise.resolve(iterator.return()).then(noop, failed);
  } catch (error) {
    return Promise.resolve({ error });
  }
  if (!reading || trusted || stopsPromptly(iterator)) return returned;
  return settlesSoon(returned).then((settled) => (settled ? returned : ABANDONED));
}

/**
 * Stops every iterator (in parallel, each as `stopSource` does); resolves with the first error
 * their `return()` threw, if any. `reading(i)`: the reader of iterator i has a `next()` in flight.
 */
export async function stopSources(
  iterators: readonly (AsyncIterator<unknown> | undefined)[],
  reading: (index: number) => boolean,
): Promise<{ error: unknown } | undefined> {
  const pending: Promise<StopOutcome>[] = [];
  for (let i = 0; i < iterators.length; i++) {
    const it = iterators[i];
    if (!it) continue;
    const stopped = stopSource(it, reading(i));
    if (stopped) pending.push(stopped);
  }
  if (pending.length === 0) return undefined;
  for (const outcome of await Promise.all(pending)) {
    if (outcome !== undefined && outcome !== ABANDONED) return outcome;
  }
  return undefined;
}

/**
 * Resolves true when `promise` settles before the event loop's next turn (every promise callback
 * queued until then has run), false otherwise. The turn is a real one even under fake timers.
 */
export function settlesSoon(promise: Promise<unknown>): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const cancel = nextTurn(() => resolve(false));
    const settled = () => {
      cancel();
      resolve(true);
    };
    promise.then(settled, settled);
  });
}

function noop(): undefined {
  return undefined;
}

function failed(error: unknown): { error: unknown } {
  return { error };
}

/**
 * Calls `fn` on the event loop's next turn, after pending promise callbacks; returns the canceller.
 * Node's own `setImmediate` from node:timers (fake timers replace only the global one), else a
 * MessageChannel (browsers, workers), else `setTimeout(0)`.
 */
const nextTurn: (fn: () => void) => () => void = (() => {
  const runtime = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const timers = runtime?.getBuiltinModule?.('node:timers') as
    | { setImmediate: (fn: () => void) => unknown; clearImmediate: (handle: unknown) => void }
    | undefined;
  if (timers?.setImmediate) {
    const { setImmediate, clearImmediate } = timers;
    return (fn) => {
      const handle = setImmediate(fn);
      return () => clearImmediate(handle);
    };
  }
  if (typeof MessageChannel === 'function') {
    return (fn) => {
      const channel = new MessageChannel();
      channel.port1.onmessage = () => {
        channel.port1.close();
        fn();
      };
      channel.port2.postMessage(null);
      return () => channel.port1.close();
    };
  }
  return (fn) => {
    const handle = setTimeout(fn, 0);
    return () => clearTimeout(handle);
  };
})();
