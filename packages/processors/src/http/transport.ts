// The one place that sends HTTP requests: undici `request` on a pooled
// keep-alive `Agent`, named timeouts, failures mapped to the typed errors of
// ./errors.ts, and a body that closes its socket the moment the reader stops.
// Streaming model calls use `openStream` (their retries live in
// ../models/run.ts, so that an error event before the first token is retried
// like a 5xx); JSON calls use ./json.ts and Range downloads ./range.ts, both
// built on this file.

import { Agent, type Dispatcher, request } from 'undici';

/** undici's dispatcher type (a pool, a proxy agent, a mock agent), for options that take one. */
export type { Dispatcher };

import { HTTP_DEFAULTS } from './defaults.ts';
import {
  APIConnectionError,
  APIError,
  APITimeoutError,
  hintFor,
  makeStatusError,
  parseErrorBody,
  redact,
  redactText,
  type TimeoutName,
} from './errors.ts';
import type { RetryPolicyOptions } from './retry-policy.ts';

/** The named timeouts of a streaming request (a view of HTTP_DEFAULTS). */
export const TIMEOUT_DEFAULTS = {
  connectTimeoutMs: HTTP_DEFAULTS.connectTimeoutMs,
  headersTimeoutMs: HTTP_DEFAULTS.headersTimeoutMs,
  idleTimeoutMs: HTTP_DEFAULTS.idleTimeoutMs,
} as const;

/** Options every model processor accepts for its transport. */
export interface TransportOptions extends RetryPolicyOptions {
  /** TCP/TLS connect timeout; default 10 s. */
  connectTimeoutMs?: number;
  /** Time to response headers; default 120 s. */
  headersTimeoutMs?: number;
  /** Longest silence between two body chunks; default 60 s. */
  idleTimeoutMs?: number;
  /** An undici dispatcher to use instead of the shared pool (a proxy, a mock agent). */
  dispatcher?: Dispatcher;
}

/** One HTTP request. */
export interface HTTPRequest {
  url: string;
  /** Default 'POST'. */
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE';
  headers?: Record<string, string>;
  /** A string, or bytes (a multipart body). */
  body?: string | Uint8Array;
  /** Provider name used in messages and hints ('openai', 'registry', 'download', ...). */
  provider: string;
  /** What the request was, named in messages after the provider, e.g. 'GET /vectors'. */
  label?: string;
  /** The hint for a failed status; default the model providers' hints (`hintFor`). */
  hints?: (status: number) => string | undefined;
  /** The environment variable the key came from, named by a 401's hint ('' for none; default the provider's). */
  apiKeyEnv?: string;
  /** Strings (API keys) that must never appear in an error. */
  secrets?: readonly string[];
}

/** An open response with a 2xx status whose body has not been read yet. */
export interface HTTPStream {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly requestId: string | undefined;
  /** The body bytes, each chunk as it arrives; failures are typed errors, an abort rejects with the signal's reason. */
  readonly body: AsyncIterable<Uint8Array>;
  /** Destroys the connection unless the body was read to the end; idempotent. */
  close(): void;
}

const sensitiveHeader = /auth|key|token|secret|cookie|signature/i;

/**
 * Every string of a request that must not appear in an error: its declared
 * secrets plus the values of credential-like headers (and the token after
 * `Bearer `), so a key passed through `headers` is redacted too. Pure.
 */
export function secretsOf(req: HTTPRequest): string[] {
  const out = [...(req.secrets ?? [])];
  for (const [name, value] of Object.entries(req.headers ?? {})) {
    if (!sensitiveHeader.test(name) || !value) continue;
    out.push(value);
    const bearer = /^\s*(?:Bearer|Basic|Token)\s+(.+)$/i.exec(value);
    if (bearer?.[1]) out.push(bearer[1]);
  }
  return out;
}

const agents = new Map<number, Agent>();

/**
 * The shared keep-alive pool for a connect timeout (one `Agent` per distinct
 * value, created on first use and kept for the process). Idle sockets are
 * unreferenced by undici, so the pool never keeps a process alive.
 */
export function sharedAgent(connectTimeoutMs: number = TIMEOUT_DEFAULTS.connectTimeoutMs): Agent {
  let agent = agents.get(connectTimeoutMs);
  if (!agent) {
    agent = new Agent({
      connect: { timeout: connectTimeoutMs },
      keepAliveTimeout: 10_000,
      keepAliveMaxTimeout: 60_000,
    });
    agents.set(connectTimeoutMs, agent);
  }
  return agent;
}

const requestIdHeaders = ['x-request-id', 'request-id', 'x-goog-request-id', 'x-generation-id'];

/** undici's raw headers as one lower-case string per name (repeated headers joined with ', '). */
export function flattenHeaders(raw: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (value !== undefined) out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

/** The request id a response carries, from the first of the usual headers that is set. */
export function requestIdOf(headers: Record<string, string>): string | undefined {
  for (const name of requestIdHeaders) if (headers[name]) return headers[name];
  return undefined;
}

const timeoutByCode: Record<string, TimeoutName> = {
  UND_ERR_CONNECT_TIMEOUT: 'connectTimeoutMs',
  UND_ERR_HEADERS_TIMEOUT: 'headersTimeoutMs',
  UND_ERR_BODY_TIMEOUT: 'idleTimeoutMs',
};

const codeByTimeout: Partial<Record<TimeoutName, string>> = {
  connectTimeoutMs: 'UND_ERR_CONNECT_TIMEOUT',
  headersTimeoutMs: 'UND_ERR_HEADERS_TIMEOUT',
  idleTimeoutMs: 'UND_ERR_BODY_TIMEOUT',
};

/** The error a named timeout of `req` raises (our own timers use it as their abort reason). */
export function timeoutError(
  req: HTTPRequest,
  timeout: TimeoutName,
  timeouts: Partial<Record<TimeoutName, number>>,
  requestId?: string,
): unknown {
  return mapTransportError(
    Object.assign(new Error(`${timeout} elapsed`), { code: codeByTimeout[timeout] ?? timeout }),
    {
      request: req,
      timeouts,
      requestId,
      timeout,
    },
  );
}

// undici's own headers/body timers have ~1 s resolution; they only back ours up.
const backstopMs = 1000;

/**
 * Maps an undici/socket failure to `APITimeoutError` or `APIConnectionError`.
 * Errors that are already `APIError`s pass through; an aborted `signal`
 * yields its reason, unchanged, so callers see the abort they asked for.
 */
export function mapTransportError(
  error: unknown,
  context: {
    request: HTTPRequest;
    signal?: AbortSignal;
    timeouts: Partial<Record<TimeoutName, number>>;
    requestId?: string;
    /** The named timeout that fired, when our own timer raised `error`. */
    timeout?: TimeoutName;
  },
): unknown {
  if (context.signal?.aborted) return context.signal.reason;
  if (error instanceof APIError) return error;
  const { request: req } = context;
  const secrets = req.secrets ?? [];
  const code = (error as { code?: unknown } | null)?.code;
  const codeText = typeof code === 'string' ? code : undefined;
  const origin = safeOrigin(req.url);
  const timeout = context.timeout ?? (codeText ? timeoutByCode[codeText] : undefined);
  const who = req.label ? `${req.provider}: ${req.label}` : req.provider;
  if (timeout) {
    const ms = context.timeouts[timeout];
    const what =
      timeout === 'connectTimeoutMs'
        ? `connecting to ${origin}`
        : timeout === 'headersTimeoutMs'
          ? `waiting for the response headers of ${origin}`
          : timeout === 'idleTimeoutMs'
            ? `waiting for the next chunk of the ${req.provider} stream`
            : timeout === 'stallTimeoutMs'
              ? `waiting for the next byte from ${origin}`
              : `waiting for the whole response of ${origin}`;
    return new APITimeoutError(redactText(`${who}: timed out after ${ms} ms ${what} (${timeout})`, secrets), {
      timeout,
      providerCode: codeByTimeout[timeout] ?? codeText,
      provider: req.provider,
      requestId: context.requestId,
      hint: `raise the ${timeout} option if the server is just slow, or check that it is running`,
      cause: error,
    });
  }
  const detail = error instanceof Error ? error.message : String(error);
  return new APIConnectionError(
    redactText(`${who}: connection to ${origin} failed${codeText ? ` (${codeText})` : ''}: ${detail}`, secrets),
    {
      providerCode: codeText,
      provider: req.provider,
      requestId: context.requestId,
      hint: `check that the server at ${origin} is running and reachable, and the baseURL`,
      cause: error,
    },
  );
}

function safeOrigin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
}

const maxErrorBodyBytes = 64 * 1024;

/** The first 64 KiB of an error response's body, as text. */
export async function readErrorBody(body: AsyncIterable<Uint8Array>): Promise<string> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of body) {
    chunks.push(chunk);
    size += chunk.byteLength;
    if (size >= maxErrorBodyBytes) break;
  }
  return Buffer.concat(chunks).toString('utf8').slice(0, maxErrorBodyBytes);
}

/** Builds the typed error for a non-2xx response whose body text was `text`. */
export function statusError(req: HTTPRequest, status: number, headers: Record<string, string>, text: string): APIError {
  const secrets = req.secrets ?? [];
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  const fields = parseErrorBody(body);
  const requestId = requestIdOf(headers) ?? fields.requestId;
  const found = fields.message ?? (text.trim().slice(0, 500) || 'no error message in the response');
  const hint = req.hints ? req.hints(status) : hintFor(status, req.provider, req.apiKeyEnv);
  const who = req.label ? `${req.provider}: ${req.label}` : req.provider;
  // The provider's code names the failure more precisely than its type, unless it is only a number.
  const named =
    fields.providerCode !== undefined && !/^\d+$/.test(fields.providerCode) ? fields.providerCode : undefined;
  const kind = named ?? fields.type;
  const message = redactText(
    `${who}: HTTP ${status}${kind ? ` ${kind}` : ''}: ${found}${hint ? ` (${hint})` : ''}${
      requestId ? ` [request id ${requestId}]` : ''
    }`,
    secrets,
  );
  return makeStatusError(status, message, {
    type: fields.type,
    providerCode: fields.providerCode,
    requestId,
    provider: req.provider,
    hint,
    body: redact(body, secrets),
    headers: redact(headers, secrets),
  });
}

/**
 * Sends one request (no retries) and resolves once a 2xx response's headers
 * arrived; a non-2xx response rejects with the typed `APIError` for its
 * status (body read, connection kept for reuse), a transport failure with
 * `APIConnectionError` / `APITimeoutError`, an abort with `signal.reason`.
 * The headers and idle timeouts are our own timers (undici's coarse ~1 s
 * timers stay as a backstop); the idle timer runs only while the reader waits.
 */
export async function openStream(
  httpRequest: HTTPRequest,
  options: TransportOptions = {},
  signal?: AbortSignal,
): Promise<HTTPStream> {
  const req = { ...httpRequest, secrets: secretsOf(httpRequest) };
  const timeouts = {
    connectTimeoutMs: options.connectTimeoutMs ?? TIMEOUT_DEFAULTS.connectTimeoutMs,
    headersTimeoutMs: options.headersTimeoutMs ?? TIMEOUT_DEFAULTS.headersTimeoutMs,
    idleTimeoutMs: options.idleTimeoutMs ?? TIMEOUT_DEFAULTS.idleTimeoutMs,
  };
  if (signal?.aborted) throw signal.reason;
  // One controller per request: the caller's abort and our timeouts both stop undici through it.
  const controller = new AbortController();
  const onCallerAbort = () => controller.abort(signal?.reason);
  signal?.addEventListener('abort', onCallerAbort, { once: true });
  const detach = () => signal?.removeEventListener('abort', onCallerAbort);
  const fail = (error: unknown, requestId?: string) => {
    const cause = controller.signal.aborted && !signal?.aborted ? controller.signal.reason : error;
    return mapTransportError(cause, { request: req, signal, timeouts, requestId });
  };
  let response: Dispatcher.ResponseData;
  const headersTimer = setTimeout(
    () => controller.abort(timeoutError(req, 'headersTimeoutMs', timeouts)),
    timeouts.headersTimeoutMs,
  );
  try {
    response = await request(req.url, {
      method: req.method ?? 'POST',
      headers: { 'user-agent': 'sluice/0.1', ...req.headers },
      body: req.body,
      signal: controller.signal,
      dispatcher: options.dispatcher ?? sharedAgent(timeouts.connectTimeoutMs),
      headersTimeout: timeouts.headersTimeoutMs + backstopMs,
      bodyTimeout: timeouts.idleTimeoutMs + backstopMs,
    });
  } catch (error) {
    detach();
    throw fail(error);
  } finally {
    clearTimeout(headersTimer);
  }
  const headers = flattenHeaders(response.headers);
  const requestId = requestIdOf(headers);
  const { body } = response;
  if (response.statusCode < 200 || response.statusCode >= 300) {
    let text: string;
    try {
      text = await readErrorBody(body);
    } catch (error) {
      body.destroy();
      throw fail(error, requestId);
    } finally {
      detach();
    }
    throw statusError(req, response.statusCode, headers, text);
  }
  let finished = false;
  const close = () => {
    detach();
    if (!finished) {
      finished = true;
      if (!body.destroyed) body.destroy();
    }
  };
  const onIdle = () => controller.abort(timeoutError(req, 'idleTimeoutMs', timeouts, requestId));
  async function* chunks(): AsyncGenerator<Uint8Array> {
    const iterator = (body as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
    try {
      while (true) {
        const idleTimer = setTimeout(onIdle, timeouts.idleTimeoutMs);
        let result: IteratorResult<Buffer>;
        try {
          result = await iterator.next();
        } finally {
          clearTimeout(idleTimer);
        }
        if (result.done) {
          finished = true;
          return;
        }
        yield result.value;
      }
    } catch (error) {
      throw fail(error, requestId);
    } finally {
      close();
    }
  }
  return { status: response.statusCode, headers, requestId, body: chunks(), close };
}
