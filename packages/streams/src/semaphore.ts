import { Fifo } from './fifo.ts';

interface Waiter {
  readonly signal: AbortSignal | undefined;
  ready: (() => void) | undefined;
  readonly fail: (reason: unknown) => void;
}

/**
 * A FIFO counting semaphore with abortable waits: at most `limit` holders at once, waiters served
 * in arrival order. `acquire(signal)` resolves at once (`undefined`, no promise) when a slot is
 * free, else with a promise that resolves when one is handed over, or rejects with `signal.reason`
 * when the signal aborts first (the waiter leaves the queue). Any number of waiters of one signal
 * share a single abort listener. Every successful acquire must be paired with one `release()`.
 */
export class Semaphore {
  readonly limit: number;
  #active = 0;
  readonly #waiters = new Fifo<Waiter>();
  /** Waiters still queued (aborted ones stay in the FIFO until skipped). */
  #queued = 0;
  readonly #bySignal = new WeakMap<AbortSignal, Set<Waiter>>();

  constructor(limit: number) {
    if (!(limit >= 1)) throw new RangeError(`Semaphore: limit must be >= 1, got ${String(limit)}`);
    this.limit = limit;
  }

  /** Slots held now. */
  get active(): number {
    return this.#active;
  }

  /** Callers waiting for a slot. */
  get waiting(): number {
    return this.#queued;
  }

  /** Takes a slot if one is free now; true when it did. */
  tryAcquire(): boolean {
    if (this.#active >= this.limit || this.#queued > 0) return false;
    this.#active++;
    return true;
  }

  /** Takes a slot: `undefined` when it was free at once, else a promise (see the class). */
  acquire(signal?: AbortSignal): Promise<void> | undefined {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.tryAcquire()) return undefined;
    return new Promise<void>((ready, fail) => {
      const waiter: Waiter = { signal, ready, fail };
      this.#waiters.push(waiter);
      this.#queued++;
      if (!signal) return;
      let set = this.#bySignal.get(signal);
      if (!set) {
        const created = new Set<Waiter>();
        set = created;
        this.#bySignal.set(signal, created);
        signal.addEventListener('abort', () => this.#drop(signal, created), { once: true });
      }
      set.add(waiter);
    });
  }

  /** Gives a slot back: to the first waiter, or to the pool. */
  release(): void {
    for (;;) {
      const next = this.#waiters.shift();
      if (!next) {
        this.#active--;
        return;
      }
      // A waiter whose signal aborted was already rejected; skip it.
      if (next.ready) {
        const ready = next.ready;
        next.ready = undefined;
        this.#queued--;
        if (next.signal) this.#bySignal.get(next.signal)?.delete(next);
        ready();
        return;
      }
    }
  }

  /** Runs `fn` holding a slot (waiting for one first) and gives the slot back however `fn` ends. */
  async run<T>(fn: () => Promise<T> | T, signal?: AbortSignal): Promise<T> {
    const wait = this.acquire(signal);
    if (wait) await wait;
    try {
      return await fn();
    } finally {
      this.release();
    }
  }

  #drop(signal: AbortSignal, waiters: Set<Waiter>): void {
    this.#bySignal.delete(signal);
    for (const waiter of waiters) {
      if (!waiter.ready) continue;
      waiter.ready = undefined;
      this.#queued--;
      waiter.fail(signal.reason);
    }
  }
}
