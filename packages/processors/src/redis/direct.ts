// A worker's fast path for the common served processor, one `partProcessor(fn)`: its `fn` is called
// on the part directly, with a context of the part's own, instead of starting a whole run of the
// processor (stages, stoppers, output loop) for every part. Anything else (chains, stream stages,
// lazy members, onInputEnd hooks) runs through the processor as before.

import {
  type Context,
  isPart,
  isReservedSubstream,
  part as makePart,
  type Part,
  type PartProcessor,
  type PartResult,
  partMembersOf,
  partProcessor,
  type Stopper,
} from '@sluice/core';

/** Where a direct run's outputs go (the worker's job of the part). */
export interface Sink {
  emit(p: Part): void;
}

/**
 * Processes one part: `sink.emit` gets each output (status and debug parts included) in order.
 * Resolves once the part is done, rejects with the error `fn` threw. `stop.signal` is the part's
 * `ctx.signal` (the caller aborts it with PART_ENDED once the part is done, as at the end of any
 * run); when it aborts early, an async iterable result is returned (its `finally` runs) and nothing more is
 * emitted. */
export type DirectRun = (input: Part, stop: Stopper, sink: Sink) => Promise<void>;

/** The reason a part's signal aborts with when its part ended (one instance: nothing reads its stack). */
export const PART_ENDED = new DOMException('The part ended', 'AbortError');

/** What this file uses of core's (internal) run object. */
interface CoreRun {
  readonly side: { readonly length: number; shift(): Part | undefined };
  onSide: (() => void) | undefined;
  finished: boolean;
  context(stopper: { readonly signal: AbortSignal }): Context;
}

/**
 * Core's run class, found through the context of a tiny run: undefined (the fast path is then off)
 * when that context does not carry one as this file expects.
 */
let runClass: (new () => CoreRun) | undefined;
let probed: Promise<void> | undefined;

/** Looks up core's run class once; resolves when done (found or not). */
export function probeRunClass(): Promise<void> {
  probed ??= (async () => {
    let seen: Context | undefined;
    const probe = partProcessor((p: Part, ctx: Context) => {
      seen = ctx;
      return p;
    });
    for await (const _ of probe('probe')) {
      // the part itself comes back
    }
    const key = seen && Object.getOwnPropertySymbols(seen).find((s) => s.description === 'sluice.run');
    const run = key ? (seen as unknown as Record<symbol, unknown>)[key] : undefined;
    const Class = (run as { constructor?: unknown } | undefined)?.constructor as (new () => CoreRun) | undefined;
    if (typeof Class !== 'function') return;
    const test = new Class();
    if (typeof test.context === 'function' && typeof test.side?.shift === 'function') {
      runClass = Class;
    }
  })().catch(() => {});
  return probed;
}

/**
 * The direct runner of `processor`, or undefined when it is not a single plain part member (or
 * `probeRunClass` found no run class).
 */
export function directRunOf(served: PartProcessor): DirectRun | undefined {
  if (!runClass) return undefined;
  const members = partMembersOf(served);
  if (members.length !== 1) return undefined;
  const member = members[0]!;
  if (member.lazy || member.onInputEnd) return undefined;
  const { fn, name } = member;
  const match = served.match.bind(served);
  const toPart = (value: unknown): Part => {
    if (typeof value === 'string' || value instanceof Uint8Array) return makePart(value);
    if (isPart(value)) return value;
    throw new TypeError(
      `${name}: expected a Part, a string or a Uint8Array, got ${value === null ? 'null' : typeof value}; yield parts (textPart, jsonPart, ...) or strings`,
    );
  };
  const expand = (value: unknown, stop: Stopper, sink: Sink): void => {
    if (value === undefined || value === null) return;
    if (typeof value === 'string' || value instanceof Uint8Array || isPart(value)) {
      if (!stop.aborted) sink.emit(toPart(value));
      return;
    }
    if (typeof (value as Iterable<unknown>)[Symbol.iterator] === 'function') {
      for (const item of value as Iterable<unknown>) {
        const p = toPart(item);
        if (!stop.aborted) sink.emit(p);
      }
      return;
    }
    throw new TypeError(
      `${name}: fn returned ${typeof value}; return a part, a string, bytes, an (async) iterable of them, a promise, or nothing`,
    );
  };
  return async (input, stop, sink) => {
    if ((input.substream !== '' && isReservedSubstream(input.substream)) || !match(input)) {
      sink.emit(input);
      return;
    }
    // A run of this part's own, as before: runState is per part, tracing sees the current call, and
    // status, debug and the reserved parts of nested runs come out in order with the outputs.
    const run = new runClass!();
    run.onSide = () => {
      while (run.side.length > 0) {
        const p = run.side.shift()!;
        if (!stop.aborted) sink.emit(p);
      }
    };
    // `stop.signal` is made only if fn reads ctx.signal.
    const ctx = run.context(stop);
    try {
      const result: PartResult = fn(input, ctx);
      if (
        result !== null &&
        typeof result === 'object' &&
        typeof (result as PromiseLike<unknown>).then === 'function'
      ) {
        expand(await result, stop, sink);
      } else if (
        result !== null &&
        typeof result === 'object' &&
        typeof (result as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function'
      ) {
        const iterator = (result as AsyncIterable<unknown>)[Symbol.asyncIterator]();
        // Stopping returns the iterator at once (queued behind a pending read), so its finally runs.
        let returned: Promise<unknown> | undefined;
        const end = () => {
          returned ??= Promise.resolve(iterator.return?.()).catch(() => {});
        };
        const remove = stop.onAbort(end);
        try {
          for (;;) {
            const step = await iterator.next();
            if (step.done || stop.aborted) break;
            const p = toPart(step.value);
            if (!stop.aborted) sink.emit(p);
          }
        } finally {
          remove();
          if (stop.aborted) {
            end();
            await returned;
          }
        }
      } else {
        expand(result, stop, sink);
      }
    } finally {
      run.finished = true;
      run.onSide = undefined;
    }
  };
}
