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
  return new DOMException('The run was stopped', 'AbortError');
}

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
  #wake: (() => void) | undefined;

  emitSide(p: Part): void {
    if (this.finished) return;
    this.side.push(p);
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

  /** Resolves with `pending`'s result, or with undefined as soon as a side part or a failure arrives. */
  race<T>(pending: Promise<T>): Promise<T | undefined> {
    // A side part may have arrived while `pending` was being created (stages start synchronously).
    if (this.side.length > 0 || this.failure) return Promise.resolve(undefined);
    return new Promise<T | undefined>((resolve, reject) => {
      this.#wake = () => resolve(undefined);
      pending.then(resolve, reject);
    });
  }

  context(signal: AbortSignal): Context {
    return {
      signal,
      status: (text, init) => this.emitSide(statusPart(text, init)),
      debug: (text, init) => this.emitSide(debugPart(text, init)),
    };
  }

  #notify(): void {
    const wake = this.#wake;
    if (wake) {
      this.#wake = undefined;
      wake();
    }
  }
}

/** Aborts `child` with the parent's reason when `parent` aborts. */
export function linkAbort(parent: AbortSignal, child: AbortController): void {
  if (parent.aborted) child.abort(parent.reason);
  else parent.addEventListener('abort', () => child.abort(parent.reason), { once: true });
}
