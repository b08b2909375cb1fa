import { Fifo } from '@sluice/streams';
import { debugPart, type Part, type PartInit, statusPart } from './part.ts';

/** What a processor's `fn` gets besides its input. */
export interface Context {
  /** Aborts when the run is stopped for any reason (consumer stopped, caller aborted, an error, the end). */
  readonly signal: AbortSignal;
  /** Emits a status part (substream 'status') straight to the run's output, out of band. */
  status(text: string, init?: PartInit): void;
  /** Emits a debug part (substream 'debug') straight to the run's output, out of band. */
  debug(text: string, init?: PartInit): void;
}

/** The reason `ctx.signal` aborts with when a run ends or its consumer stopped early. */
export function stoppedReason(): DOMException {
  // One shared instance: a DOMException captures a stack (~10 us in Node) and every run that ends
  // normally aborts with it; nothing reads its stack.
  STOPPED ??= new DOMException('The run was stopped', 'AbortError');
  return STOPPED;
}
let STOPPED: DOMException | undefined;

/**
 * An abort controller whose `AbortSignal` is created only when something reads `signal`. The
 * stages of a run stop through plain callbacks (`onAbort`); a Web `AbortSignal` (an EventTarget,
 * which costs several microseconds to create, link and abort) exists only for code that asks for
 * it, such as a processor reading `ctx.signal`. Aborting sets `aborted`/`reason`, aborts the
 * signal if it exists (its listeners run first), then calls the callbacks in order. Exported for
 * code that hands out many signals most of which nobody reads (the Redis worker, one per part).
 */
export class Stopper {
  aborted = false;
  reason: unknown = undefined;
  /**
   * Listeners the signal may have before Node warns of a leak (its default is 10); set for a part
   * processor's stage, whose `fn` calls may each listen (one per part in flight). 0: no limit.
   */
  maxListeners: number | undefined = undefined;
  #controller: AbortController | undefined;
  #callbacks: ((reason: unknown) => void)[] | undefined;

  /** The Web signal of this stopper, created on first use (already aborted if this stopper is). */
  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.maxListeners !== undefined) setMaxListeners?.(this.maxListeners, this.#controller.signal);
      if (this.aborted) this.#controller.abort(this.reason);
    }
    return this.#controller.signal;
  }

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.#controller?.abort(reason);
    const callbacks = this.#callbacks;
    this.#callbacks = undefined;
    if (callbacks) for (const callback of callbacks) callback(reason);
  }

  /** Calls `fn` once on abort (at once if aborted already); returns a function removing it. */
  onAbort(fn: (reason: unknown) => void): () => void {
    if (this.aborted) {
      fn(this.reason);
      return noop;
    }
    const callbacks = (this.#callbacks ??= []);
    callbacks.push(fn);
    return () => {
      const i = this.#callbacks?.indexOf(fn) ?? -1;
      if (i >= 0) this.#callbacks!.splice(i, 1);
    };
  }

  /** `child` aborts with this stopper's reason when this one aborts. */
  link(child: Stopper): void {
    this.onAbort((reason) => child.abort(reason));
  }
}

function noop(): void {}

/**
 * Node's `events.setMaxListeners`, where the runtime is Node (feature-detected, not imported: this
 * package runs in browsers, Deno, Bun and edge runtimes too, where EventTarget has no such limit).
 */
const setMaxListeners = (() => {
  const runtime = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const events = runtime?.getBuiltinModule?.('node:events') as
    | { setMaxListeners?: (n: number, ...targets: EventTarget[]) => void }
    | undefined;
  return events?.setMaxListeners;
})();

/**
 * The state one call of a processor shares between its stages: the first failure, the abort
 * controller every stage's signal hangs from, and the out-of-band queue of reserved-substream
 * parts that reach the output as soon as they are emitted.
 */
export class Run {
  readonly controller = new Stopper();
  readonly side = new Fifo<Part>();
  failure: { error: unknown } | undefined;
  finished = false;
  /** The consumer asked to stop (`return()`), possibly while a read was pending. */
  stopRequested = false;
  /** @internal Called on every side part, failure and stop: wakes the run's output loop. */
  onSide: (() => void) | undefined;
  /**
   * The open trace call this run works for (opaque to core; see trace.ts): a nested run inherits
   * its parent's, a top-level run takes the one of the async context it starts in, if any.
   */
  call: unknown;

  /**
   * `parent`: the run of the processor that started this one for part of its work (`parallel`,
   * `parallelConcat`, `catchErrors`); reserved-substream parts go straight to its output.
   */
  constructor(readonly parent?: Run) {
    this.call = parent ? parent.call : traceEdge.current?.();
  }

  emitSide(p: Part): void {
    if (this.parent && !this.parent.finished) {
      this.parent.emitSide(p);
      return;
    }
    if (this.finished) return;
    this.side.push(p);
    this.#notify();
  }

  /** The consumer stopped: abort every stage now, even while the run loop waits for a part. */
  stop(): void {
    if (this.stopRequested || this.finished) return;
    this.stopRequested = true;
    if (!this.controller.aborted) this.controller.abort(stoppedReason());
    this.#notify();
  }

  /** Records the first error and stops every stage. */
  fail(error: unknown): void {
    if (!this.failure) {
      this.failure = { error };
      this.controller.abort(error);
    }
    this.#notify();
  }

  throwIfFailed(): void {
    if (this.failure) throw this.failure.error;
  }

  /** The context of a stage that stops with `stopper` (its `signal` is created when first read). */
  context(stopper: Stopper): Context {
    // An object literal: `signal` is an own enumerable getter, so `{ ...ctx }` copies a working
    // signal, and `status`/`debug` are arrow functions, so they can be passed around unbound.
    // The run's status/debug functions are shared by its stages.
    this.#status ??= (text, init) => this.emitSide(statusPart(text, init));
    this.#debug ??= (text, init) => this.emitSide(debugPart(text, init));
    const ctx = {
      get signal() {
        return stopper.signal;
      },
      status: this.#status,
      debug: this.#debug,
    } as Context & { [RUN]: Run };
    // Set after the literal: a computed key would make the literal take V8's slow path.
    ctx[RUN] = this;
    return ctx;
  }
  #status: Context['status'] | undefined;
  #debug: Context['debug'] | undefined;
  #state: WeakMap<object, unknown> | undefined;

  /** @internal Per-run state of `runState`. */
  state<T>(key: object, create: () => T): T {
    const map = (this.#state ??= new WeakMap());
    if (map.has(key)) return map.get(key) as T;
    const value = create();
    map.set(key, value);
    return value;
  }

  #notify(): void {
    this.onSide?.();
  }
}

const RUN = Symbol('sluice.run');

/** @internal Set by a tracing integration: the call open in the current async context. */
export const traceEdge: { current: (() => unknown) | undefined } = { current: undefined };

/**
 * State that one run of a processor keeps across its parts: the value `create()` made the first
 * time this run asked for `key`, the same object for every part and every stage of the run, and
 * never shared with another run. `key` is any object the processor owns (one per processor, so two
 * processors in one chain keep apart). Inside `parallel` and `catchErrors` each part is a run of
 * its own. Throws `TypeError` for a context that no run made.
 */
export function runState<T>(ctx: Context, key: object, create: () => T): T {
  const run = runOf(ctx);
  if (!run) throw new TypeError('runState: ctx is not the context of a Sluice run; pass the ctx your fn was given');
  return run.state(key, create);
}

/**
 * @internal A context like `ctx` (same signal, status and debug) whose run is `run`: runs started
 * from it (through `PARENT_RUN`) and `runState` see `run`.
 */
export function contextWithRun(ctx: Context, run: Run): Context {
  return {
    get signal() {
      return ctx.signal;
    },
    status: ctx.status,
    debug: ctx.debug,
    [RUN]: run,
  } as Context;
}

/** @internal The run a context belongs to. */
export function runOf(ctx: Context): Run | undefined {
  return (ctx as unknown as Record<symbol, Run | undefined>)[RUN];
}

/** Aborts `child` with the parent's reason when `parent` aborts. */
export function linkAbort(parent: AbortSignal, child: AbortController): void {
  if (parent.aborted) child.abort(parent.reason);
  else parent.addEventListener('abort', () => child.abort(parent.reason), { once: true });
}

// One 'abort' listener per signal, fanned out: nested runs (one per part in `parallel`) would
// otherwise pile listeners on one signal and trip the runtime's leak warning.
const subscribers = new WeakMap<AbortSignal, Set<(reason: unknown) => void>>();

/** Calls `fn` once when `signal` aborts (at once if it has); returns the unsubscribe function. */
export function subscribeAbort(signal: AbortSignal | undefined, fn: (reason: unknown) => void): () => void {
  if (!signal) return () => {};
  if (signal.aborted) {
    fn(signal.reason);
    return () => {};
  }
  let set = subscribers.get(signal);
  if (!set) {
    const created = new Set<(reason: unknown) => void>();
    set = created;
    subscribers.set(signal, created);
    signal.addEventListener(
      'abort',
      () => {
        subscribers.delete(signal);
        for (const subscriber of created) subscriber(signal.reason);
      },
      { once: true },
    );
  }
  set.add(fn);
  const current = set;
  return () => {
    current.delete(fn);
  };
}
