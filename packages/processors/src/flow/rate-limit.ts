import { type Processor, processor } from '@sluice/core';
import { Semaphore } from '@sluice/streams';
import { configOf, withConfig } from '../models/config.ts';

/** Limits of a rate limiter; each is optional (an unset limit does not limit). */
export interface RateLimitOptions {
  /** Sustained rate of run starts. */
  requestsPerSecond?: number;
  /**
   * Run starts allowed in one window of `burst / requestsPerSecond` seconds. Default:
   * max(1, requestsPerSecond), so a window is one second.
   */
  burst?: number;
  /** Runs in flight at once (in this process). */
  concurrency?: number;
  /**
   * Where starts are counted when several processes share the budget (e.g. `redisRateLimitStore`
   * from `@sluice/processors/redis`); default `memoryRateLimitStore()`, this process only. The rule
   * is a sliding window: at most `burst` starts in any window of `burst / requestsPerSecond`
   * seconds, across every process using the store; `concurrency` still counts this process's runs.
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
  readonly resolve: () => void;
  readonly reject: (reason: unknown) => void;
  readonly signal: AbortSignal | undefined;
  readonly onAbort: () => void;
}

/**
 * The starts of the last window in this process: at most `limit` in any `windowMs` (a sliding
 * log of start times, oldest first). The default store of a limiter without `store`.
 */
export function memoryRateLimitStore(): RateLimitStore {
  const starts: number[] = [];
  return {
    tryStart(limit, windowMs) {
      const now = Date.now();
      while (starts.length > 0 && starts[0]! <= now - windowMs) starts.shift();
      if (starts.length < limit) {
        starts.push(now);
        return Promise.resolve(0);
      }
      return Promise.resolve(starts[0]! + windowMs - now);
    },
  };
}

/**
 * A start-rate limit plus a concurrency gate, shareable by several processors (one limiter per API
 * key, say). The rule: at most `burst` run starts in any window of `burst / requestsPerSecond`
 * seconds (with the default burst, at most N starts in any one second at N per second), and at most
 * `concurrency` runs in flight. Waiters are served first come, first served: a run takes a
 * concurrency slot (the streams package's Semaphore), then waits for its start. Time is read from
 * `Date.now()` and waits use the global setTimeout, so fake timers drive it.
 */
export class RateLimiter {
  readonly requestsPerSecond: number;
  readonly burst: number;
  readonly concurrency: number;
  readonly #slots: Semaphore | undefined;
  readonly #store: RateLimitStore | undefined;
  readonly #windowMs: number;
  /** Runs holding a slot and waiting for their start, first come first served. */
  readonly #starting: Waiter[] = [];
  #active = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
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
    this.#slots = Number.isFinite(concurrency) ? new Semaphore(concurrency) : undefined;
    this.#store = Number.isFinite(rps) ? (options.store ?? memoryRateLimitStore()) : undefined;
    this.#windowMs = (burst / rps) * 1000;
  }

  /** Runs started and not finished. */
  get active(): number {
    return this.#active;
  }

  /** Callers waiting for a slot or for their start. */
  get waiting(): number {
    return (this.#slots?.waiting ?? 0) + this.#starting.length;
  }

  /**
   * Waits for a concurrency slot and a start (in arrival order) and resolves with the function
   * that gives the slot back (idempotent). Rejects with `signal.reason` if the signal aborts
   * while waiting (the caller leaves the queue at once), or with the store's error.
   */
  async acquire(signal?: AbortSignal): Promise<() => void> {
    signal?.throwIfAborted();
    const wait = this.#slots?.acquire(signal);
    if (wait) await wait;
    try {
      if (this.#store) await this.#waitForStart(signal);
    } catch (error) {
      this.#slots?.release();
      throw error;
    }
    this.#active++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#active--;
      this.#slots?.release();
    };
  }

  #waitForStart(signal: AbortSignal | undefined): Promise<void> {
    signal?.throwIfAborted();
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        resolve: () => {
          signal?.removeEventListener('abort', waiter.onAbort);
          resolve();
        },
        reject: (reason) => {
          signal?.removeEventListener('abort', waiter.onAbort);
          reject(reason);
        },
        signal,
        onAbort: () => {
          const index = this.#starting.indexOf(waiter);
          if (index !== -1) this.#starting.splice(index, 1);
          reject(signal?.reason);
          this.#pump();
        },
      };
      signal?.addEventListener('abort', waiter.onAbort, { once: true });
      this.#starting.push(waiter);
      this.#pump();
    });
  }

  /** Asks the store for the head waiter's start: one request at a time, a timer while it must wait. */
  #pump(): void {
    if (this.#starting.length === 0) {
      if (this.#timer !== undefined) clearTimeout(this.#timer);
      this.#timer = undefined;
      return;
    }
    if (this.#asking || this.#timer !== undefined || !this.#store) return;
    this.#asking = true;
    this.#store.tryStart(this.burst, this.#windowMs).then(
      (waitMs) => {
        this.#asking = false;
        if (waitMs > 0) {
          // Only wait while someone waits; an abort that empties the queue clears this timer.
          if (this.#starting.length > 0) {
            this.#timer = setTimeout(() => {
              this.#timer = undefined;
              this.#pump();
            }, waitMs);
          }
          return;
        }
        // A start nobody waits for any more (the head aborted meanwhile) is spent.
        this.#starting.shift()?.resolve();
        this.#pump();
      },
      (error: unknown) => {
        this.#asking = false;
        this.#starting.shift()?.reject(error);
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
