// The one HTTP transport under every model processor: undici `request` on a
// pooled keep-alive `Agent`, three named timeouts, failures mapped to the
// typed errors of ./errors.ts, and a body that closes its socket the moment
// the reader stops. Retries live one level up (see ../models/run.ts), so that
// an error event arriving before the first token is retried like a 5xx.

import { Agent, type Dispatcher, request } from 'undici';
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

/** Defaults of the named timeouts, in milliseconds. */
export const TIMEOUT_DEFAULTS = {
  /** TCP (and TLS) connect. */
  connectTimeoutMs: 10_000,
  /** From sending the request to the response headers (a long prompt may take a while to start). */
  headersTimeoutMs: 120_000,
  /** Between two chunks of the response body: a stalled stream fails instead of hanging. */
  idleTimeoutMs: 60_000,
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

/** One HTTP request of a model processor. */
export interface HTTPRequest {
  url: string;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  /** Provider name used in messages and hints. */
  provider: string;
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

function flattenHeaders(raw: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (value !== undefined) out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

function requestIdOf(headers: Record<string, string>): string | undefined {
  for (const name of requestIdHeaders) if (headers[name]) return headers[name];
  return undefined;
}

const timeoutByCode: Record<string, TimeoutName> = {
  UND_ERR_CONNECT_TIMEOUT: 'connectTimeoutMs',
  UND_ERR_HEADERS_TIMEOUT: 'headersTimeoutMs',
  UND_ERR_BODY_TIMEOUT: 'idleTimeoutMs',
};

const codeByTimeout: Record<TimeoutName, string> = {
  connectTimeoutMs: 'UND_ERR_CONNECT_TIMEOUT',
  headersTimeoutMs: 'UND_ERR_HEADERS_TIMEOUT',
  idleTimeoutMs: 'UND_ERR_BODY_TIMEOUT',
};

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
    timeouts: Required<Omit<TransportOptions, 'dispatcher' | keyof RetryPolicyOptions>>;
    requestId?: string;
  },
): unknown {
  if (context.signal?.aborted) return context.signal.reason;
  if (error instanceof APIError) return error;
  const { request: req } = context;
  const secrets = req.secrets ?? [];
  const code = (error as { code?: unknown } | null)?.code;
  const codeText = typeof code === 'string' ? code : undefined;
  const origin = safeOrigin(req.url);
  const timeout = codeText ? timeoutByCode[codeText] : undefined;
  if (timeout) {
    const ms = context.timeouts[timeout];
    const what =
      timeout === 'connectTimeoutMs'
        ? `connecting to ${origin}`
        : timeout === 'headersTimeoutMs'
          ? `waiting for the response headers of ${origin}`
          : `waiting for the next chunk of the ${req.provider} stream`;
    return new APITimeoutError(redactText(`${req.provider}: timed out after ${ms} ms ${what} (${timeout})`, secrets), {
      timeout,
      code: codeText,
      provider: req.provider,
      requestId: context.requestId,
      hint: `raise the ${timeout} option if the server is just slow, or check that it is running`,
      cause: error,
    });
  }
  const detail = error instanceof Error ? error.message : String(error);
  return new APIConnectionError(
    redactText(
      `${req.provider}: connection to ${origin} failed${codeText ? ` (${codeText})` : ''}: ${detail}`,
      secrets,
    ),
    {
      code: codeText,
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

async function readErrorBody(body: AsyncIterable<Uint8Array>): Promise<string> {
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
  const hint = hintFor(status, req.provider, req.apiKeyEnv);
  const message = redactText(
    `${req.provider}: HTTP ${status}${fields.type ? ` ${fields.type}` : ''}: ${found}${hint ? ` (${hint})` : ''}${
      requestId ? ` [request id ${requestId}]` : ''
    }`,
    secrets,
  );
  return makeStatusError(status, message, {
    type: fields.type,
    code: fields.code,
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
  const timeoutError = (timeout: TimeoutName, requestId?: string) =>
    mapTransportError(Object.assign(new Error(`${timeout} elapsed`), { code: codeByTimeout[timeout] }), {
      request: req,
      timeouts,
      requestId,
    });

  let response: Dispatcher.ResponseData;
  const headersTimer = setTimeout(() => controller.abort(timeoutError('headersTimeoutMs')), timeouts.headersTimeoutMs);
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
  const onIdle = () => controller.abort(timeoutError('idleTimeoutMs', requestId));
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
