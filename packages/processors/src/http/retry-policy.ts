// The retry policy of the model transport, as pure functions so it can be
// tested without a network: which failures are retried, and how long to wait.
// It follows the official OpenAI/Anthropic SDKs: 2 retries, retry on
// connection errors, 408, 409, 429 and 5xx (529 included), obey
// `x-should-retry`, honour `retry-after-ms` / `retry-after` when it asks for
// less than a minute, otherwise exponential backoff 0.5 s doubling to 8 s
// with up to 25 % jitter. 400/401/403/404 are never retried. Every default
// is in ./defaults.ts.

import { HTTP_DEFAULTS } from './defaults.ts';
import { APIConnectionError, APIError, InternalServerError, RateLimitError } from './errors.ts';

/** Defaults of the retry policy (a view of HTTP_DEFAULTS). */
export const RETRY_DEFAULTS = {
  maxRetries: HTTP_DEFAULTS.maxRetries,
  initialRetryDelayMs: HTTP_DEFAULTS.initialRetryDelayMs,
  maxRetryDelayMs: HTTP_DEFAULTS.maxRetryDelayMs,
  ignoreRetryAfterAboveMs: HTTP_DEFAULTS.ignoreRetryAfterAboveMs,
} as const;

/** The knobs of the policy; every field has a default in `HTTP_DEFAULTS`. */
export interface RetryPolicyOptions {
  maxRetries?: number;
  initialRetryDelayMs?: number;
  maxRetryDelayMs?: number;
  /** A server-requested wait longer than this is ignored in favour of the backoff. */
  ignoreRetryAfterAboveMs?: number;
}

const neverRetried = new Set([400, 401, 403, 404]);

/** Whether a response with `status` and `headers` should be retried (`x-should-retry` wins except for 400/401/403/404). */
export function shouldRetryStatus(status: number, headers: Readonly<Record<string, string | undefined>> = {}): boolean {
  if (neverRetried.has(status)) return false;
  const explicit = headers['x-should-retry'];
  if (explicit === 'true') return true;
  if (explicit === 'false') return false;
  return status === 408 || status === 409 || status === 429 || status >= 500;
}

/** Whether a status is worth retrying on its own (408, 409, 429, 5xx); see `shouldRetryStatus` for headers. */
export function isRetryableStatus(status: number): boolean {
  return shouldRetryStatus(status);
}

/**
 * Whether an error thrown by a model processor is transient: connection
 * errors and timeouts, and API errors whose status (or, for mid-stream error
 * events without a status, whose class) is retryable.
 */
export function isRetryableError(error: unknown): boolean {
  if (error instanceof APIConnectionError) return true;
  if (!(error instanceof APIError)) return false;
  if (error.status !== undefined) return shouldRetryStatus(error.status, error.headers);
  return error instanceof RateLimitError || error instanceof InternalServerError;
}

/** Milliseconds the server asked us to wait (`retry-after-ms`, then `retry-after` in seconds or as an HTTP date), if any. */
export function retryAfterMs(
  headers: Readonly<Record<string, string | undefined>> | undefined,
  now: number = Date.now(),
): number | undefined {
  if (!headers) return undefined;
  const ms = headers['retry-after-ms'];
  if (ms !== undefined) {
    const value = Number.parseFloat(ms);
    if (Number.isFinite(value)) return value;
  }
  const after = headers['retry-after'];
  if (after !== undefined) {
    const seconds = Number.parseFloat(after);
    if (Number.isFinite(seconds)) return seconds * 1000;
    const date = Date.parse(after);
    if (Number.isFinite(date)) return date - now;
  }
  return undefined;
}

/**
 * The wait before retry number `retry` (0 for the first retry): the server's
 * request when it is between 0 and `ignoreRetryAfterAboveMs`, else
 * `min(initial * 2^retry, max)` reduced by up to 25 % jitter.
 */
export function retryDelayMs(
  retry: number,
  options: RetryPolicyOptions & { headers?: Readonly<Record<string, string | undefined>>; random?: () => number } = {},
): number {
  const asked = retryAfterMs(options.headers);
  const ignoreAbove = options.ignoreRetryAfterAboveMs ?? HTTP_DEFAULTS.ignoreRetryAfterAboveMs;
  if (asked !== undefined && asked >= 0 && asked < ignoreAbove) return asked;
  const initial = options.initialRetryDelayMs ?? RETRY_DEFAULTS.initialRetryDelayMs;
  const max = options.maxRetryDelayMs ?? RETRY_DEFAULTS.maxRetryDelayMs;
  const base = Math.min(initial * 2 ** retry, max);
  const jitter = 1 - (options.random ?? Math.random)() * 0.25;
  return base * jitter;
}

/**
 * Resolves after `ms` (global `setTimeout`, so fake timers drive it); rejects
 * with `signal.reason` as soon as the signal aborts, clearing the timer and
 * removing its listener either way.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
