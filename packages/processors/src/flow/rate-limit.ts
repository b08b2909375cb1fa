import { type Processor, processor } from '@sluice/core';
import { configOf, withConfig } from '../models/config.ts';

/** Limits of a rate limiter; each is optional (an unset limit does not limit). */
export interface RateLimitOptions {
  /** Sustained rate of run starts. */
  requestsPerSecond?: number;
  /** Run starts allowed at once after a quiet period (the bucket size). Default: max(1, requestsPerSecond). */
  burst?: number;
  /** Runs in flight at once (in this process). */
  concurrency?: number;
  /**
   * Where starts are counted when several processes share the budget (e.g. `redisRateLimitStore`
   * from `@sluice/processors/redis`). With a store the rule is a sliding window: at most `burst`
   * starts in any window of `burst / requestsPerSecond` seconds, across every process using the
   * store; `concurrency` still counts this process's runs.
   */
  store?: RateLimitStore;
}

/** A shared count of run starts (see `RateLimitOptions.store`). */
export interface RateLimitStore {
  /**
   * Records one start if fewer than `limit` starts were recorded in the last `windowMs`, and
   * resolves 0; otherwise records nothing and resolves the milliseconds to wait before asking again.
   */
  tryStart(limit: number, windowMs: number): Promise<number>;
}

interface Waiter {
  resolve: (release: () => void) => void;
  reject: (reason: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: () => void;
}

/**
 * A token bucket plus a concurrency gate, shareable by several processors
 * (one limiter per API key, say). Waiters are served first come, first
 * served. Time is read from `Date.now()` and waits use the global
 * setTimeout, so fake timers drive it.
 */
export class RateLimiter {
  readonly requestsPerSecond: number;
  readonly burst: number;
  readonly concurrency: number;
  #tokens: number;
  #refilledAt = Date.now();
  #active = 0;
  #queue: Waiter[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  readonly #store: RateLimitStore | undefined;
  #asking = false;

  constructor(options: RateLimitOptions = {}) {
    const rps = options.requestsPerSecond ?? Number.POSITIVE_INFINITY;
    if (!(rps > 0)) throw new RangeError(`rateLimit: requestsPerSecond must be > 0, got ${String(rps)}`);
    const burst = options.burst ?? (Number.isFinite(rps) ? Math.max(1, rps) : Number.POSITIVE_INFINITY);
    if (!(burst >= 1)) throw new RangeError(`rateLimit: burst must be >= 1, got ${String(options.burst)}`);
    const concurrency = options.concurrency ?? Number.POSITIVE_INFINITY;
    if (!(concurrency >= 1)) throw new RangeError(`rateLimit: concurrency must be >= 1, got ${String(concurrency)}`);
    this.requestsPerSecond = rps;
    this.burst = burst;
    this.concurrency = concurrency;
    this.#tokens = burst;
    this.#store = Number.isFinite(rps) ? options.store : undefined;
  }

  /** Runs in flight. */
  get active(): number {
    return this.#active;
  }

  /** Callers waiting for a slot. */
  get waiting(): number {
    return this.#queue.length;
  }

  /**
   * Waits for a token and a concurrency slot (in arrival order) and resolves
   * with the function that gives the slot back (idempotent). Rejects with
   * `signal.reason` if the signal aborts while waiting.
   */
  acquire(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        signal,
        onAbort: () => {
          const index = this.#queue.indexOf(waiter);
          if (index !== -1) this.#queue.splice(index, 1);
          reject(signal?.reason);
          this.#pump();
        },
      };
      signal?.addEventListener('abort', waiter.onAbort, { once: true });
      this.#queue.push(waiter);
      this.#pump();
    });
  }

  #refill(): void {
    if (!Number.isFinite(this.requestsPerSecond)) return;
    const now = Date.now();
    this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#refilledAt) / 1000) * this.requestsPerSecond);
    this.#refilledAt = now;
  }

  #pump(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    this.#refill();
    while (this.#queue.length > 0 && this.#active < this.concurrency) {
      if (this.#store) {
        this.#askStore(this.#store);
        return;
      }
      if (Number.isFinite(this.requestsPerSecond)) {
        if (this.#tokens < 1) {
          const waitMs = Math.ceil(((1 - this.#tokens) / this.requestsPerSecond) * 1000);
          this.#timer = setTimeout(() => {
            this.#timer = undefined;
            this.#pump();
          }, waitMs);
          return;
        }
        this.#tokens -= 1;
      }
      this.#grant(this.#queue.shift()!);
    }
  }

  #grant(waiter: Waiter): void {
    waiter.signal?.removeEventListener('abort', waiter.onAbort);
    this.#active++;
    let released = false;
    waiter.resolve(() => {
      if (released) return;
      released = true;
      this.#active--;
      this.#pump();
    });
  }

  /** One store request at a time, for the waiter at the head (a grant nobody waits for any more is spent). */
  #askStore(store: RateLimitStore): void {
    if (this.#asking) return;
    this.#asking = true;
    const windowMs = (this.burst / this.requestsPerSecond) * 1000;
    store.tryStart(this.burst, windowMs).then(
      (waitMs) => {
        this.#asking = false;
        if (waitMs > 0) {
          if (this.#timer !== undefined) clearTimeout(this.#timer);
          this.#timer = setTimeout(() => {
            this.#timer = undefined;
            this.#pump();
          }, waitMs);
          return;
        }
        const waiter = this.#queue.shift();
        if (waiter) this.#grant(waiter);
        this.#pump();
      },
      (error: unknown) => {
        this.#asking = false;
        const waiter = this.#queue.shift();
        if (waiter) {
          waiter.signal?.removeEventListener('abort', waiter.onAbort);
          waiter.reject(error);
        }
        this.#pump();
      },
    );
  }
}

/**
 * Makes a limiter to share between several `rateLimit` wrappers: one budget
 * of run starts and in-flight runs, served first come, first served.
 */
export function createRateLimiter(options: RateLimitOptions = {}): RateLimiter {
  return new RateLimiter(options);
}

/**
 * Runs `p` only when the limiter allows: each run waits (in arrival order)
 * for a token of the bucket and a concurrency slot, holds the slot until the
 * run ends however it ends, and passes `p`'s parts through unchanged. Pass
 * a limiter (or `{ limiter }`) to share one budget between processors. Stopping a waiting
 * run leaves the queue at once.
 */
export function rateLimit(p: Processor, options: RateLimitOptions | RateLimiter | { limiter: RateLimiter }): Processor {
  const limiter =
    options instanceof RateLimiter ? options : 'limiter' in options ? options.limiter : new RateLimiter(options);
  const wrapped = processor(
    async function* limited(input, ctx) {
      const release = await limiter.acquire(ctx.signal);
      try {
        yield* p(input, { signal: ctx.signal });
      } finally {
        release();
      }
    },
    { name: `rateLimit(${p.name})` },
  );
  return withConfig(wrapped, { wraps: p.name, inner: configOf(p) });
}
