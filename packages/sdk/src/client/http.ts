// The registry's JSON transport. `@sluice/processors` does not export its
// request function, so this is undici `request` on the processors' shared
// keep-alive pool, with their retry policy (`isRetryableError`,
// `retryDelayMs`: 2 retries, backoff with jitter, Retry-After honoured) and
// their typed errors (`AuthenticationError`, `NotFoundError`, ...), so the
// registry fails exactly like a model does.

import {
  APIConnectionError,
  APIError,
  type APIErrorInit,
  APITimeoutError,
  AuthenticationError,
  abortableSleep,
  BadRequestError,
  ConflictError,
  InternalServerError,
  isRetryableError,
  NotFoundError,
  PermissionError,
  RateLimitError,
  retryDelayMs,
  sharedAgent,
  UnprocessableEntityError,
} from '@sluice/processors';
import { type Dispatcher, request } from 'undici';
import type { z } from 'zod';
import { RegistryErrorBodySchema } from './schemas.ts';

/** Defaults of the client's transport. */
export const CLIENT_DEFAULTS = {
  /** Retries after the first attempt (GETs, and POSTs that carry an Idempotency-Key). */
  maxRetries: 2,
  /** Limit of one attempt, from sending the request to the end of the response body. */
  timeoutMs: 60_000,
} as const;

/** How the transport reaches the registry. */
export interface TransportConfig {
  /** Base URL including the API version, e.g. 'http://127.0.0.1:8080/v1'. */
  readonly baseURL: string;
  readonly apiKey: string;
  readonly maxRetries: number;
  readonly timeoutMs: number;
  /** An undici dispatcher instead of the processors' shared pool (a proxy, a mock agent). */
  readonly dispatcher?: Dispatcher;
}

/** One call to the registry. */
export interface Call {
  readonly method: 'GET' | 'POST';
  /** Path below the base URL, e.g. '/vectors'. */
  readonly path: string;
  readonly query?: Readonly<Record<string, string | number | undefined>>;
  readonly body?: unknown;
  /** Sent as Idempotency-Key; a POST is retried only when it has one. */
  readonly idempotencyKey?: string;
  readonly signal?: AbortSignal;
}

const PROVIDER = 'registry';

const hints: Record<number, string> = {
  400: 'the registry refused the request; check the parameters (limit 1..100, a cursor from the same search)',
  401: 'check the API key: pass apiKey to new Client() or set SLUICE_API_KEY',
  403: 'the API key may not do this; check its permissions',
  404: 'check the package id or download token, and that baseURL ends with the API version (/v1)',
  409: 'the same Idempotency-Key is being processed; it was retried',
  410: 'the download token expired; purchase again (with the same Idempotency-Key to get the same receipt)',
  422: 'an Idempotency-Key was reused with a different request; use a new key for a new purchase',
  429: 'rate limited (retried with backoff up to maxRetries times): raise maxRetries or slow down',
};

function hintFor(status: number): string | undefined {
  return (
    hints[status] ?? (status >= 500 ? 'the registry failed; it was retried, raise maxRetries or try later' : undefined)
  );
}

function errorClassFor(status: number): new (message: string, init?: APIErrorInit) => APIError {
  switch (status) {
    case 400:
      return BadRequestError;
    case 401:
      return AuthenticationError;
    case 403:
      return PermissionError;
    case 404:
      return NotFoundError;
    case 409:
      return ConflictError;
    case 422:
      return UnprocessableEntityError;
    case 429:
      return RateLimitError;
    default:
      return status >= 500 ? InternalServerError : APIError;
  }
}

function flatten(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

/** `text` with every occurrence of `secret` (4 characters or more) replaced by '[redacted]'. */
function redact(text: string, secret: string): string {
  return secret.length >= 4 ? text.split(secret).join('[redacted]') : text;
}

/** The typed error of a non-2xx answer, its message built from the registry's error body; `secret` never appears in it. */
export function statusError(
  call: Call,
  status: number,
  headers: Record<string, string>,
  text: string,
  secret = '',
): APIError {
  const safe = redact(text, secret);
  let body: unknown = safe;
  try {
    body = JSON.parse(safe);
  } catch {
    // not JSON: keep the text
  }
  const parsed = RegistryErrorBodySchema.safeParse(body);
  const fields = parsed.success ? parsed.data.error : undefined;
  const requestId = headers['x-request-id'];
  const hint = hintFor(status);
  const found = fields?.message ?? (safe.trim().slice(0, 300) || 'no error message');
  const message = `${PROVIDER}: ${call.method} ${call.path}: HTTP ${status}${fields ? ` ${fields.code}` : ''}: ${found}${
    hint ? ` (${hint})` : ''
  }${requestId ? ` [request id ${requestId}]` : ''}`;
  const ErrorClass = errorClassFor(status);
  return new ErrorClass(message, {
    status,
    type: fields?.type,
    code: fields?.code,
    requestId,
    provider: PROVIDER,
    hint,
    body,
    headers,
  });
}

const timedOut = Symbol('timedOut');

/**
 * The registry's JSON transport: bearer auth, one attempt bounded by
 * `timeoutMs`, transient failures (connection errors, timeouts, 408, 409,
 * 429, 5xx) retried up to `maxRetries` times for GETs and for POSTs that carry
 * an Idempotency-Key (so a retry never repeats a side effect). Aborting the
 * call's signal cancels the socket and rejects with `signal.reason`.
 */
export class RegistryTransport {
  readonly config: TransportConfig;

  constructor(config: TransportConfig) {
    this.config = config;
  }

  /** The absolute URL of `path` (below the base URL) with `query`. */
  url(path: string, query: Call['query'] = {}): string {
    const url = new URL(`${this.config.baseURL.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`);
    for (const [key, value] of Object.entries(query)) if (value !== undefined) url.searchParams.set(key, String(value));
    return url.toString();
  }

  /** Sends `call`, retrying transient failures, and returns the response body validated by `schema`. */
  async json<T>(schema: z.ZodType<T>, call: Call): Promise<T> {
    const retryable = call.method === 'GET' || call.idempotencyKey !== undefined;
    for (let retry = 0; ; retry++) {
      try {
        return await this.#attempt(schema, call);
      } catch (error) {
        if (call.signal?.aborted) throw call.signal.reason;
        if (!retryable || retry >= this.config.maxRetries || !isRetryableError(error)) throw error;
        const delay = retryDelayMs(retry, { headers: error instanceof APIError ? error.headers : undefined });
        await abortableSleep(delay, call.signal);
      }
    }
  }

  async #attempt<T>(schema: z.ZodType<T>, call: Call): Promise<T> {
    const { timeoutMs } = this.config;
    const controller = new AbortController();
    const onAbort = () => controller.abort(call.signal?.reason);
    call.signal?.throwIfAborted();
    call.signal?.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(() => controller.abort(timedOut), timeoutMs);
    const url = this.url(call.path, call.query);
    try {
      const headers: Record<string, string> = {
        accept: 'application/json',
        authorization: `Bearer ${this.config.apiKey}`,
        'user-agent': 'sluice-sdk/0.1',
      };
      if (call.body !== undefined) headers['content-type'] = 'application/json';
      if (call.idempotencyKey !== undefined) headers['idempotency-key'] = call.idempotencyKey;
      const response = await request(url, {
        method: call.method,
        headers,
        body: call.body === undefined ? undefined : JSON.stringify(call.body),
        signal: controller.signal,
        dispatcher: this.config.dispatcher ?? sharedAgent(),
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      const text = await response.body.text();
      const responseHeaders = flatten(response.headers);
      if (response.statusCode < 200 || response.statusCode >= 300) {
        throw statusError(call, response.statusCode, responseHeaders, text, this.config.apiKey);
      }
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        throw this.#unexpected(
          call,
          response.statusCode,
          `the body is not JSON: ${JSON.stringify(text.slice(0, 200))}`,
        );
      }
      const parsed = schema.safeParse(value);
      if (!parsed.success) {
        const where = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
        throw this.#unexpected(call, response.statusCode, where);
      }
      return parsed.data;
    } catch (error) {
      if (call.signal?.aborted) throw call.signal.reason;
      if (error instanceof APIError) throw error;
      if (controller.signal.reason === timedOut || isUndiciTimeout(error)) {
        throw new APITimeoutError(
          `${PROVIDER}: ${call.method} ${call.path} timed out after ${timeoutMs} ms (timeoutMs)`,
          {
            provider: PROVIDER,
            hint: 'raise the timeoutMs option of new Client() if the registry is just slow, or check that it is running',
            cause: error,
          },
        );
      }
      const code = (error as { code?: unknown } | null)?.code;
      throw new APIConnectionError(
        `${PROVIDER}: ${call.method} ${call.path}: connection to ${new URL(url).origin} failed${
          typeof code === 'string' ? ` (${code})` : ''
        }: ${redact(error instanceof Error ? error.message : String(error), this.config.apiKey)}`,
        {
          provider: PROVIDER,
          code: typeof code === 'string' ? code : undefined,
          hint: 'check that the registry is running and the baseURL',
          cause: error,
        },
      );
    } finally {
      clearTimeout(timer);
      call.signal?.removeEventListener('abort', onAbort);
    }
  }

  #unexpected(call: Call, status: number, detail: string): APIError {
    return new APIError(`${PROVIDER}: ${call.method} ${call.path}: unexpected response: ${detail}`, {
      status,
      provider: PROVIDER,
      hint: 'the server does not speak the registry API of this sdk version; check the baseURL',
    });
  }
}

function isUndiciTimeout(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT';
}
