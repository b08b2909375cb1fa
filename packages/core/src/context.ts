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
 * The state one call of a processor shares between its stages: the first failure, the abort
 * controller every stage's signal hangs from, and the out-of-band queue of reserved-substream
 * parts that reach the output as soon as they are emitted.
 */
export class Run {
  readonly controller = new AbortController();
  readonly side = new Fifo<Part>();
  failure: { error: unknown } | undefined;
  finished = false;
  /** The consumer asked to stop (`return()`), possibly while a read was pending. */
  stopRequested = false;
  /** @internal Called on every side part, failure and stop: wakes the run's output loop. */
  onSide: (() => void) | undefined;

  /**
   * `parent`: the run of the processor that started this one for part of its work (`parallel`,
   * `parallelConcat`, `catchErrors`); reserved-substream parts go straight to its output.
   */
  constructor(readonly parent?: Run) {}

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
    if (!this.controller.signal.aborted) this.controller.abort(stoppedReason());
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

  context(signal: AbortSignal): Context {
    const ctx: Context = {
      signal,
      status: (text, init) => this.emitSide(statusPart(text, init)),
      debug: (text, init) => this.emitSide(debugPart(text, init)),
    };
    Object.defineProperty(ctx, RUN, { value: this });
    return ctx;
  }

  #notify(): void {
    this.onSide?.();
  }
}

const RUN = Symbol('sluice.run');

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
