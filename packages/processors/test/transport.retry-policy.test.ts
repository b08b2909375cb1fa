// The retry policy as pure functions: which statuses are retried, how the
// server's retry-after headers are read, and the backoff schedule.

import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  APIConnectionError,
  APIError,
  APITimeoutError,
  AuthenticationError,
  InternalServerError,
  makeStatusError,
  RateLimitError,
} from '../src/http/errors.ts';
import { isRetryableError, retryAfterMs, retryDelayMs, shouldRetryStatus, sleep } from '../src/http/retry-policy.ts';

describe('shouldRetryStatus', () => {
  it('retries 408, 409, 429 and every 5xx including 529', () => {
    for (const status of [408, 409, 429, 500, 502, 503, 504, 529])
      expect(shouldRetryStatus(status), String(status)).toBe(true);
  });

  it('never retries 400, 401, 403, 404, even when x-should-retry says true', () => {
    for (const status of [400, 401, 403, 404]) {
      expect(shouldRetryStatus(status)).toBe(false);
      expect(shouldRetryStatus(status, { 'x-should-retry': 'true' })).toBe(false);
    }
  });

  it('obeys x-should-retry for other statuses', () => {
    expect(shouldRetryStatus(500, { 'x-should-retry': 'false' })).toBe(false);
    expect(shouldRetryStatus(422, { 'x-should-retry': 'true' })).toBe(true);
    expect(shouldRetryStatus(422)).toBe(false);
  });
});

describe('isRetryableError', () => {
  it('retries connection errors, timeouts, and retryable statuses', () => {
    expect(isRetryableError(new APIConnectionError('x'))).toBe(true);
    expect(isRetryableError(new APITimeoutError('x', { timeout: 'headersTimeoutMs' }))).toBe(true);
    expect(isRetryableError(makeStatusError(503, 'x'))).toBe(true);
    expect(isRetryableError(makeStatusError(401, 'x'))).toBe(false);
  });

  it('retries mid-stream errors without a status by class only', () => {
    expect(isRetryableError(new InternalServerError('x'))).toBe(true);
    expect(isRetryableError(new RateLimitError('x'))).toBe(true);
    expect(isRetryableError(new AuthenticationError('x'))).toBe(false);
    expect(isRetryableError(new APIError('x'))).toBe(false);
    expect(isRetryableError(new Error('x'))).toBe(false);
  });
});

describe('retryAfterMs', () => {
  it('prefers retry-after-ms', () => {
    expect(retryAfterMs({ 'retry-after-ms': '250', 'retry-after': '9' })).toBe(250);
  });

  it('reads retry-after in seconds (fractions too)', () => {
    expect(retryAfterMs({ 'retry-after': '2' })).toBe(2000);
    expect(retryAfterMs({ 'retry-after': '0.5' })).toBe(500);
  });

  it('reads retry-after as an HTTP date', () => {
    const now = Date.parse('Wed, 21 Oct 2015 07:28:00 GMT');
    expect(retryAfterMs({ 'retry-after': 'Wed, 21 Oct 2015 07:28:03 GMT' }, now)).toBe(3000);
  });

  it('ignores garbage', () => {
    expect(retryAfterMs({ 'retry-after': 'soon' })).toBeUndefined();
    expect(retryAfterMs(undefined)).toBeUndefined();
  });
});

describe('retryDelayMs', () => {
  it('doubles from 0.5 s to a cap of 8 s, with up to 25 % jitter off', () => {
    const none = () => 0;
    const most = () => 1;
    expect([0, 1, 2, 3, 4, 5].map((retry) => retryDelayMs(retry, { random: none }))).toEqual([
      500, 1000, 2000, 4000, 8000, 8000,
    ]);
    expect(retryDelayMs(0, { random: most })).toBe(375);
    for (let i = 0; i < 100; i++) {
      const delay = retryDelayMs(1);
      expect(delay).toBeGreaterThanOrEqual(750);
      expect(delay).toBeLessThanOrEqual(1000);
    }
  });

  it('uses what the server asked when it is under a minute, the backoff otherwise', () => {
    expect(retryDelayMs(0, { headers: { 'retry-after': '3' } })).toBe(3000);
    expect(retryDelayMs(0, { headers: { 'retry-after': '120' }, random: () => 0 })).toBe(500);
    expect(retryDelayMs(0, { headers: { 'retry-after-ms': '-5' }, random: () => 0 })).toBe(500);
  });

  it('is configurable', () => {
    expect(retryDelayMs(3, { initialRetryDelayMs: 1, maxRetryDelayMs: 4, random: () => 0 })).toBe(4);
  });
});

describe('sleep', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('is driven by fake timers', async () => {
    vi.useFakeTimers();
    let done = false;
    const sleeping = sleep(1000).then(() => {
      done = true;
    });
    await vi.advanceTimersByTimeAsync(999);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await sleeping;
    expect(done).toBe(true);
  });

  it('rejects with the abort reason and clears its timer', async () => {
    vi.useFakeTimers();
    const controller = new AbortController();
    const sleeping = sleep(1000, controller.signal);
    const reason = new Error('stop');
    controller.abort(reason);
    await expect(sleeping).rejects.toBe(reason);
    expect(vi.getTimerCount()).toBe(0);
  });
});
