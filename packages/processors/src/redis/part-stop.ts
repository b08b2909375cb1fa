// The stop switch of one part in a worker: `ctx.signal` of the part, its AbortController made only
// when something reads `signal` (most part functions never do, and making and aborting a Web signal
// for every part costs more than the rest of a direct part's bookkeeping).

/** Abortable once; `signal` (created on first read) is already aborted if the switch is. */
export class PartStop {
  #controller: AbortController | undefined;
  #listener: (() => void) | undefined;
  aborted = false;
  reason: unknown;

  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.aborted) this.#controller.abort(this.reason);
    }
    return this.#controller.signal;
  }

  /** Aborts (a no-op when already aborted): the signal first, then the listener. */
  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.#controller?.abort(reason);
    const listener = this.#listener;
    this.#listener = undefined;
    listener?.();
  }

  /** Calls `fn` once on abort (at once if aborted); one listener at a time. Returns its remover. */
  onAbort(fn: () => void): () => void {
    if (this.aborted) {
      fn();
      return () => {};
    }
    this.#listener = fn;
    return () => {
      if (this.#listener === fn) this.#listener = undefined;
    };
  }
}
