// JSON requests (the registry client, and any non-streaming call): one attempt bounded by a whole-
// request timeout, the typed errors of ./errors.ts, and retries by the shared policy for requests
// that are safe to repeat. Built on `openStream`, so it shares its pool, redaction and mapping.

import type { Dispatcher } from 'undici';
import type { z } from 'zod';
import { HTTP_DEFAULTS } from './defaults.ts';
import { APIError, redactText, UnexpectedResponseError } from './errors.ts';
import { isRetryableError, type RetryPolicyOptions, retryDelayMs, sleep } from './retry-policy.ts';
import { type HTTPRequest, openStream, secretsOf, timeoutError } from './transport.ts';

/** A JSON request: `body` is serialized with `JSON.stringify`; `idempotent` lets a POST be retried. */
export interface JSONRequest extends Omit<HTTPRequest, 'body'> {
  body?: unknown;
  /** True when repeating the request has no extra effect (an Idempotency-Key): then it is retried like a GET. */
  idempotent?: boolean;
  /** The hint of an answer that is not JSON or fails its schema (default: check the baseURL). */
  responseHint?: string;
}

/** Options of `requestJSON`; each default is in HTTP_DEFAULTS. */
export interface JSONRequestOptions extends RetryPolicyOptions {
  /** One attempt, from sending the request to the end of the body. */
  timeoutMs?: number;
  connectTimeoutMs?: number;
  dispatcher?: Dispatcher;
  signal?: AbortSignal;
}

/**
 * Sends `req` and resolves with its JSON body validated by `schema`. Transient failures (connection
 * errors, timeouts, 408, 409, 429, 5xx) are retried up to `maxRetries` times with backoff
 * (`Retry-After` honoured) for GETs and idempotent requests only, so a retry never repeats a side
 * effect. Failures are typed `APIError`s; a 2xx that is not JSON or fails `schema` is an
 * `UnexpectedResponseError`. Aborting `signal` closes the socket and rejects with `signal.reason`.
 */
export async function requestJSON<T>(
  req: JSONRequest,
  schema: z.ZodType<T>,
  options: JSONRequestOptions = {},
): Promise<T> {
  const method = req.method ?? 'POST';
  const retryable = method === 'GET' || req.idempotent === true;
  const maxRetries = options.maxRetries ?? HTTP_DEFAULTS.maxRetries;
  for (let retry = 0; ; retry++) {
    try {
      return await attempt(req, schema, options);
    } catch (error) {
      if (options.signal?.aborted) throw options.signal.reason;
      if (!retryable || retry >= maxRetries || !isRetryableError(error)) throw error;
      const headers = error instanceof APIError ? error.headers : undefined;
      await sleep(retryDelayMs(retry, { ...options, headers }), options.signal);
    }
  }
}

async function attempt<T>(req: JSONRequest, schema: z.ZodType<T>, options: JSONRequestOptions): Promise<T> {
  const timeoutMs = options.timeoutMs ?? HTTP_DEFAULTS.timeoutMs;
  const { signal } = options;
  signal?.throwIfAborted();
  const headers: Record<string, string> = { accept: 'application/json', ...req.headers };
  if (req.body !== undefined) headers['content-type'] ??= 'application/json';
  const request: HTTPRequest = {
    ...req,
    headers,
    body: req.body === undefined ? undefined : JSON.stringify(req.body),
  };
  // The whole attempt is bounded by one timer; the caller's abort wins over it.
  const controller = new AbortController();
  const onAbort = () => controller.abort(signal?.reason);
  signal?.addEventListener('abort', onAbort, { once: true });
  const timer = setTimeout(() => controller.abort(timeoutError(request, 'timeoutMs', { timeoutMs })), timeoutMs);
  try {
    const stream = await openStream(
      request,
      {
        connectTimeoutMs: options.connectTimeoutMs,
        headersTimeoutMs: timeoutMs,
        idleTimeoutMs: timeoutMs,
        dispatcher: options.dispatcher,
      },
      controller.signal,
    );
    const decoder = new TextDecoder('utf-8');
    let text = '';
    for await (const chunk of stream.body) text += decoder.decode(chunk, { stream: true });
    text += decoder.decode();
    const unexpected = (detail: string) => {
      const hint = req.responseHint ?? 'the server does not speak this API; check the baseURL';
      const who = req.label ? `${req.provider}: ${req.label}` : req.provider;
      return new UnexpectedResponseError(
        redactText(`${who}: unexpected response: ${detail} (${hint})`, secretsOf(request)),
        {
          status: stream.status,
          provider: req.provider,
          requestId: stream.requestId,
          hint,
        },
      );
    };
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw unexpected(`the body is not JSON: ${JSON.stringify(text.slice(0, 200))}`);
    }
    const parsed = schema.safeParse(value);
    if (!parsed.success) {
      throw unexpected(parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; '));
    }
    return parsed.data;
  } catch (error) {
    if (signal?.aborted) throw signal.reason;
    throw error;
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  }
}
