// A resumable body reader for Range downloads: one entity's bytes, in order, across dropped
// connections, stalls and transient statuses. A resumed request asks for `bytes=<received>-` with
// `If-Range` (the strong ETag or Last-Modified of the first response), and its `Content-Range` must
// start where we are and name the same entity; a server that answers with the whole entity again
// (200) is reported as a restart, so the reader never splices two versions of a file.

import { Agent, type Dispatcher, interceptors, request } from 'undici';
import { HTTP_DEFAULTS } from './defaults.ts';
import { APIConnectionError, APIError, type APIErrorInit } from './errors.ts';
import { isRetryableError, retryAfterMs, retryDelayMs, sleep } from './retry-policy.ts';
import {
  flattenHeaders,
  type HTTPRequest,
  mapTransportError,
  readErrorBody,
  requestIdOf,
  statusError,
  timeoutError,
} from './transport.ts';

/** One retry of a resumable read (see `onRetry`). */
export interface ResumableRetry {
  /** 1 for the first retry since bytes last arrived. */
  readonly attempt: number;
  readonly delayMs: number;
  /** The failure's message. */
  readonly reason: string;
  readonly error: unknown;
  /** Bytes of the entity read so far; the retry resumes from there when the server allows. */
  readonly bytesDone: number;
}

/** Options of `readResumable`; each default is in HTTP_DEFAULTS. */
export interface ResumableOptions {
  readonly signal?: AbortSignal;
  /** Retries after a failure, counted since bytes last arrived. */
  readonly maxRetries?: number;
  /** A request that receives no byte for this long is aborted and resumed. */
  readonly stallTimeoutMs?: number;
  readonly initialRetryDelayMs?: number;
  readonly maxRetryDelayMs?: number;
  /** A server asking (`Retry-After`) to wait longer than this fails the read at once instead of waiting. */
  readonly failRetryAfterAboveMs?: number;
  /** A dispatcher instead of a fresh `Agent` (following up to 5 redirects) per read; it is not closed. */
  readonly dispatcher?: Dispatcher;
  /** Provider name in messages; default 'download'. */
  readonly provider?: string;
  readonly onRetry?: (retry: ResumableRetry) => void;
}

/** What `readResumable` yields: a response's head (before its bytes), then its bytes. */
export type ResumableEvent =
  | {
      readonly type: 'response';
      /** 200 for the whole entity, 206 for the rest of it. */
      readonly status: number;
      readonly headers: Record<string, string>;
      /** The entity's size when the response says it (Content-Length of a 200, Content-Range of a 206). */
      readonly total: number | undefined;
      /** True when bytes were yielded before and this response starts the entity again: drop them. */
      readonly restart: boolean;
    }
  | { readonly type: 'data'; readonly chunk: Uint8Array };

/** Thrown by `readResumable` when retries ran out; `cause` is the last failure. */
export class RetriesExhaustedError extends APIConnectionError {
  override name = 'RetriesExhaustedError';
  readonly retries: number;
  constructor(message: string, retries: number, init: APIErrorInit) {
    super(message, init);
    this.retries = retries;
  }
}

const MAX_REDIRECTIONS = 5;

/** A strong ETag (weak ones cannot guard a Range request), or undefined. */
function strongEtag(headers: Record<string, string>): string | undefined {
  const value = headers.etag;
  return value && !value.startsWith('W/') ? value : undefined;
}

/** Thrown inside the loop for a failure worth retrying, with the wait the server asked for. */
class Transient extends Error {
  readonly retryAfterMs: number | undefined;
  readonly error: unknown;
  constructor(error: unknown, retryAfter?: number) {
    super(error instanceof Error ? error.message : String(error));
    this.error = error;
    this.retryAfterMs = retryAfter;
  }
}

/**
 * Reads `url` (GET) to the end of one entity, resuming with Range after failures: connection
 * errors, stalls (`stallTimeoutMs` without a byte), a body cut short of its length, and retryable
 * statuses (408, 409, 429, 5xx, honouring `Retry-After` up to `failRetryAfterAboveMs`). Backoff
 * doubles from `initialRetryDelayMs` to `maxRetryDelayMs` with jitter; the attempt counter resets
 * when bytes arrive. A status that is not retried throws its typed `APIError` at once; running out
 * of retries throws `RetriesExhaustedError`; aborting `signal` rejects with its reason. Stopping
 * the iteration closes the socket.
 */
export async function* readResumable(
  url: string | URL,
  options: ResumableOptions = {},
): AsyncGenerator<ResumableEvent, void, undefined> {
  const signal = options.signal ?? new AbortController().signal;
  const retries = options.maxRetries ?? HTTP_DEFAULTS.maxRetries;
  const stallMs = options.stallTimeoutMs ?? HTTP_DEFAULTS.stallTimeoutMs;
  const failAbove = options.failRetryAfterAboveMs ?? HTTP_DEFAULTS.failRetryAfterAboveMs;
  const provider = options.provider ?? 'download';
  const href = String(url);
  const req: HTTPRequest = { url: href, method: 'GET', provider, label: `GET ${href}`, hints: downloadHint };
  const agent = options.dispatcher ? undefined : new Agent();
  const dispatcher =
    options.dispatcher ?? (agent as Agent).compose(interceptors.redirect({ maxRedirections: MAX_REDIRECTIONS }));
  let received = 0;
  let validator: string | undefined;
  let etag: string | undefined;
  let yielded = false;
  let attempt = 0;
  try {
    for (;;) {
      signal.throwIfAborted();
      const controller = new AbortController();
      const onAbort = () => controller.abort(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      const stall = setTimeout(
        () => controller.abort(timeoutError(req, 'stallTimeoutMs', { stallTimeoutMs: stallMs })),
        stallMs,
      );
      let waitMs = 0;
      let body: Dispatcher.ResponseData['body'] | undefined;
      try {
        const headers: Record<string, string> = { 'accept-encoding': 'identity', 'user-agent': 'sluice/0.1' };
        if (received > 0) {
          headers.range = `bytes=${received}-`;
          if (validator) headers['if-range'] = validator;
        }
        let response: Dispatcher.ResponseData;
        try {
          response = await request(url, { dispatcher, headers, signal: controller.signal });
        } catch (error) {
          throw new Transient(mapTransportError(error, { request: req, signal: controller.signal, timeouts: {} }));
        }
        body = response.body;
        stall.refresh();
        const h = flattenHeaders(response.headers);
        const status = response.statusCode;
        if (status === 416) {
          await body.dump().catch(() => {});
          const complete = /bytes \*\/(\d+)/.exec(h['content-range'] ?? '');
          if (received > 0 && complete && Number(complete[1]) === received) return;
          received = 0;
          validator = undefined;
          throw new Transient(new APIError(`${provider}: GET ${href}: the server refused the range (416)`, { status }));
        }
        if (status !== 200 && status !== 206) {
          const text = await readErrorBody(body).catch(() => '');
          const error = statusError(req, status, h, text);
          if (isRetryableError(error)) throw new Transient(error, retryAfterMs(h));
          throw error;
        }
        let total: number | undefined;
        let restart = false;
        if (status === 206) {
          const range = /bytes (\d+)-(\d+)\/(\d+|\*)/.exec(h['content-range'] ?? '');
          const sameEntity = !etag || strongEtag(h) === etag;
          if (!range || Number(range[1]) !== received || !sameEntity) {
            // Never splice two versions of a file: ask for all of it again.
            await body.dump().catch(() => {});
            received = 0;
            validator = undefined;
            etag = undefined;
            const why = sameEntity ? 'an unexpected Content-Range' : 'the file changed on the server';
            throw new Transient(new APIConnectionError(`${provider}: GET ${href}: ${why}`, { status }));
          }
          if (range[3] !== '*') total = Number(range[3]);
        } else {
          restart = yielded;
          received = 0;
          const length = h['content-length'];
          if (length !== undefined) total = Number(length);
          etag = strongEtag(h);
          validator = etag ?? h['last-modified'];
        }
        yield { type: 'response', status, headers: h, total, restart };
        stall.refresh();
        try {
          for await (const chunk of body as AsyncIterable<Uint8Array>) {
            stall.refresh();
            received += chunk.byteLength;
            yielded = true;
            attempt = 0;
            yield { type: 'data', chunk };
            stall.refresh();
          }
        } catch (error) {
          throw new Transient(
            mapTransportError(error, {
              request: req,
              signal: controller.signal,
              timeouts: {},
              requestId: requestIdOf(h),
            }),
          );
        }
        if (total !== undefined && received < total) {
          throw new Transient(
            new APIConnectionError(`${provider}: GET ${href}: connection closed at ${received} of ${total} bytes`, {
              provider,
            }),
          );
        }
        return;
      } catch (thrown) {
        if (signal.aborted) throw signal.reason;
        if (!(thrown instanceof Transient)) throw thrown;
        const error = thrown.error;
        if (!isRetryableError(error) && !(error instanceof APIError && error.status === 416)) throw error;
        attempt++;
        if (attempt > retries) {
          throw new RetriesExhaustedError(
            `${thrown.message}; gave up after ${retries} ${retries === 1 ? 'retry' : 'retries'}`,
            retries,
            { provider, cause: error, hint: 'raise the retries option, or check the server' },
          );
        }
        if (thrown.retryAfterMs !== undefined && thrown.retryAfterMs > failAbove) {
          throw new RetriesExhaustedError(
            `${thrown.message}: the server asks to retry after ${thrown.retryAfterMs} ms, more than failRetryAfterAboveMs (${failAbove} ms)`,
            attempt - 1,
            { provider, cause: error, hint: 'raise failRetryAfterAboveMs to wait that long, or try later' },
          );
        }
        waitMs =
          thrown.retryAfterMs !== undefined && thrown.retryAfterMs >= 0
            ? thrown.retryAfterMs
            : retryDelayMs(attempt - 1, options);
        options.onRetry?.({ attempt, delayMs: waitMs, reason: thrown.message, error, bytesDone: received });
      } finally {
        clearTimeout(stall);
        signal.removeEventListener('abort', onAbort);
        // A body left unread (the consumer stopped, or a status we do not read) is destroyed; its
        // 'error' event then has a listener, so the abort never surfaces as an unhandled error.
        if (body && !body.destroyed) body.on('error', noop).destroy();
      }
      await sleep(waitMs, signal);
    }
  } finally {
    await agent?.destroy().catch(() => {});
  }
}

function noop(): void {}

/** Hints of a failed download status. */
function downloadHint(status: number): string | undefined {
  if (status === 401 || status === 403) return 'the server refused access; check the URL and its credentials or token';
  if (status === 404) return 'no file at this URL; check it';
  if (status === 410) return 'the link expired; get a new one';
  if (status === 429) return 'rate limited: retried honouring Retry-After; lower maxConcurrency or try later';
  if (status >= 500) return 'the server failed; retried with backoff, raise retries or try later';
  return undefined;
}
