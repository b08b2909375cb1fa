// Typed errors of the model transport. One class per failure kind; every
// instance carries what a caller needs to react (status, the provider's own
// error type/code, the request id) and a `hint` saying what to do. Messages
// never contain API keys: every string that reaches an error goes through
// `redact` with the request's secrets.

import { SluiceError } from '@sluice/streams';

/** Fields shared by every transport error; all optional except `message`. */
export interface APIErrorInit {
  /** HTTP status of the response, or the status a mid-stream error event stands for. */
  status?: number;
  /** The provider's error type, e.g. 'invalid_request_error', 'overloaded_error', 'RESOURCE_EXHAUSTED'. */
  type?: string;
  /** The provider's own error code ('rate_limit_exceeded'; vLLM's integer codes become strings), or undici's code for connection errors. */
  providerCode?: string;
  /** The request id the provider returned (`x-request-id`, `request-id`, ...), for support tickets. */
  requestId?: string;
  /** What to do about it. */
  hint?: string;
  /** Which provider answered: 'openai', 'anthropic', 'ollama', 'gemini', 'registry', ... */
  provider?: string;
  /** The parsed error body (redacted). */
  body?: unknown;
  /** Response headers (redacted). */
  headers?: Record<string, string>;
  cause?: unknown;
}

/** The stable `code` of each HTTP error class (see the error table in the processors README). */
export type APIErrorCode =
  | 'E_API'
  | 'E_BAD_REQUEST'
  | 'E_AUTH'
  | 'E_PERMISSION'
  | 'E_NOT_FOUND'
  | 'E_REQUEST_CONFLICT'
  | 'E_UNPROCESSABLE'
  | 'E_RATE_LIMIT'
  | 'E_SERVER'
  | 'E_CONNECTION'
  | 'E_TIMEOUT'
  | 'E_BAD_RESPONSE'
  | 'E_CONTENT_POLICY';

/**
 * Base class of every error of an HTTP call (models, the registry, downloads' status errors).
 * `instanceof` a subclass, or `code`, tells the kind; `status`, `type`, `providerCode` and
 * `requestId` come from the provider when it sent them.
 */
export class APIError extends SluiceError {
  override name = 'APIError';
  declare readonly code: APIErrorCode;
  readonly status: number | undefined;
  readonly type: string | undefined;
  /** The provider's own error code, e.g. 'rate_limit_exceeded', 'invalid_api_key' (`code` is Sluice's). */
  readonly providerCode: string | undefined;
  readonly requestId: string | undefined;
  readonly provider: string | undefined;
  readonly body: unknown;
  readonly headers: Record<string, string> | undefined;

  constructor(message: string, init: APIErrorInit = {}, code: APIErrorCode = 'E_API') {
    super(code, message, { hint: init.hint, cause: init.cause });
    this.status = init.status;
    this.type = init.type;
    this.providerCode = init.providerCode;
    this.requestId = init.requestId;
    this.provider = init.provider;
    this.body = init.body;
    this.headers = init.headers;
  }
}

/** 400: the request was malformed or rejected by validation. Not retried. */
export class BadRequestError extends APIError {
  override name = 'BadRequestError';
  constructor(message: string, init: APIErrorInit = {}) {
    super(message, init, 'E_BAD_REQUEST');
  }
}

/** 401: missing or wrong API key. Not retried. */
export class AuthenticationError extends APIError {
  override name = 'AuthenticationError';
  constructor(message: string, init: APIErrorInit = {}) {
    super(message, init, 'E_AUTH');
  }
}

/** 403: the key is valid but not allowed to do this. Not retried. */
export class PermissionError extends APIError {
  override name = 'PermissionError';
  constructor(message: string, init: APIErrorInit = {}) {
    super(message, init, 'E_PERMISSION');
  }
}

/** 404: wrong model name, wrong id or wrong baseURL. Not retried. */
export class NotFoundError extends APIError {
  override name = 'NotFoundError';
  constructor(message: string, init: APIErrorInit = {}) {
    super(message, init, 'E_NOT_FOUND');
  }
}

/** 409: a conflicting request (lock timeout, an Idempotency-Key in flight); retried. */
export class ConflictError extends APIError {
  override name = 'ConflictError';
  constructor(message: string, init: APIErrorInit = {}) {
    super(message, init, 'E_REQUEST_CONFLICT');
  }
}

/** 422: the request was understood but cannot be processed. Not retried. */
export class UnprocessableEntityError extends APIError {
  override name = 'UnprocessableEntityError';
  constructor(message: string, init: APIErrorInit = {}) {
    super(message, init, 'E_UNPROCESSABLE');
  }
}

/** 429: rate limited or out of quota; retried honouring `retry-after`. */
export class RateLimitError extends APIError {
  override name = 'RateLimitError';
  constructor(message: string, init: APIErrorInit = {}) {
    super(message, init, 'E_RATE_LIMIT');
  }
}

/** 5xx (and Anthropic's 529 overloaded): the provider failed; retried. */
export class InternalServerError extends APIError {
  override name = 'InternalServerError';
  constructor(message: string, init: APIErrorInit = {}) {
    super(message, init, 'E_SERVER');
  }
}

/** The request never got a response: refused, reset, DNS, TLS, or the connection dropped mid-stream. Retried before the stream starts. */
export class APIConnectionError extends APIError {
  override name = 'APIConnectionError';
  constructor(message: string, init: APIErrorInit = {}, code: APIErrorCode = 'E_CONNECTION') {
    super(message, init, code);
  }
}

/** Which named timeout fired (see HTTP_DEFAULTS). */
export type TimeoutName = 'connectTimeoutMs' | 'headersTimeoutMs' | 'idleTimeoutMs' | 'timeoutMs' | 'stallTimeoutMs';

/** A named timeout fired: connect, time to response headers, idle time between stream chunks, or a whole request. */
export class APITimeoutError extends APIConnectionError {
  override name = 'APITimeoutError';
  /** The option that bounded the wait, e.g. 'idleTimeoutMs'. */
  readonly timeout: TimeoutName | undefined;
  constructor(message: string, init: APIErrorInit & { timeout?: TimeoutName } = {}) {
    super(message, init, 'E_TIMEOUT');
    this.timeout = init.timeout;
  }
}

/** A 2xx response that is not what the protocol promises (not JSON, a body failing its schema, invalid stream JSON). Not retried. */
export class UnexpectedResponseError extends APIError {
  override name = 'UnexpectedResponseError';
  constructor(message: string, init: APIErrorInit = {}) {
    super(message, init, 'E_BAD_RESPONSE');
  }
}

/**
 * The provider refused the prompt or its output under its content policy (OpenAI images'
 * `moderation_blocked`, `content_policy_violation`). Not retried: the same prompt is refused again.
 */
export class ContentPolicyError extends APIError {
  override name = 'ContentPolicyError';
  constructor(message: string, init: APIErrorInit = {}) {
    super(message, init, 'E_CONTENT_POLICY');
  }
}

/** Replaces every occurrence of each secret (length >= 4) in `text` with `[redacted]`. */
export function redactText(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length >= 4 && out.includes(secret)) out = out.split(secret).join('[redacted]');
  }
  return out;
}

/** Deep-copies `value` with every string redacted; used on error bodies and headers before they are kept. */
export function redact<T>(value: T, secrets: readonly string[]): T {
  if (secrets.length === 0) return value;
  if (typeof value === 'string') return redactText(value, secrets) as T;
  if (Array.isArray(value)) return value.map((item) => redact(item, secrets)) as T;
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) out[key] = redact(item, secrets);
    return out as T;
  }
  return value;
}

/** The environment variable each model processor reads its key from by default (see `ModelOptions.apiKeyEnv`). */
export const API_KEY_ENV: Readonly<Record<string, string>> = {
  openai: 'OPENAI_API_KEY',
  anthropic: 'ANTHROPIC_API_KEY',
  gemini: 'GEMINI_API_KEY',
  ollama: '',
};

/**
 * The hint attached to an error of `status` from `provider` (what a user should check first).
 * `apiKeyEnv` is the variable the key came from, named by a 401's hint ('' for none); default the
 * provider's own (API_KEY_ENV).
 */
export function hintFor(
  status: number | undefined,
  provider: string | undefined,
  apiKeyEnv: string | undefined = provider === undefined ? undefined : API_KEY_ENV[provider],
): string | undefined {
  switch (status) {
    case 400:
      return 'the provider rejected the request body; check the model options (extraBody, tools, maxTokens) against its docs';
    case 401:
      return `check the API key: ${apiKeyEnv ? `set ${apiKeyEnv} or pass apiKey` : 'pass it as the apiKey option'}, and make sure it belongs to this provider and baseURL`;
    case 403:
      return 'the API key is valid but may not use this model or project; check its permissions and region';
    case 404:
      return provider === 'openai'
        ? "check the model name and the baseURL (OpenAI-compatible baseURLs end with '/v1')"
        : 'check the model name and the baseURL (an origin such as http://127.0.0.1:11434, without a path)';
    case 408:
    case 409:
      return 'a transient failure, retried with backoff up to maxRetries times (0 means never); raise maxRetries to retry longer';
    case 413:
      return 'the request is too large; send fewer or smaller parts';
    case 422:
      return 'the request was understood but refused; check the option values';
    case 429:
      return 'rate limited or out of quota: raise maxRetries, wrap the processor in rateLimit(), or check the plan';
    default:
      if (status !== undefined && status >= 500)
        return 'the provider failed or is overloaded; such failures are retried with backoff up to maxRetries times (0 means never): raise maxRetries or try later';
      return undefined;
  }
}

/** Picks the error class for an HTTP status (or the status a stream error event maps to). */
export function errorClassFor(status: number | undefined): new (message: string, init?: APIErrorInit) => APIError {
  if (status === undefined) return APIError;
  if (status === 400) return BadRequestError;
  if (status === 401) return AuthenticationError;
  if (status === 403) return PermissionError;
  if (status === 404) return NotFoundError;
  if (status === 409) return ConflictError;
  if (status === 422) return UnprocessableEntityError;
  if (status === 429) return RateLimitError;
  if (status >= 500) return InternalServerError;
  return APIError;
}

/** Builds the right subclass for `status`, with a hint unless one is given. */
export function makeStatusError(status: number | undefined, message: string, init: APIErrorInit = {}): APIError {
  const ErrorClass = errorClassFor(status);
  return new ErrorClass(message, { ...init, status, hint: init.hint ?? hintFor(status, init.provider) });
}

/** What the providers' error bodies say, in one shape. */
export interface ErrorBodyFields {
  message?: string;
  type?: string;
  providerCode?: string;
  status?: number;
  requestId?: string;
}

/**
 * Reads the error fields of any provider's error body: OpenAI and OpenRouter
 * `{ error: { message, type, code } }`, vLLM `{ object: 'error', message,
 * type, code: 400 }`, LM Studio and Ollama `{ error: 'text' }`, Anthropic
 * `{ type: 'error', error: { type, message }, request_id }`, Gemini
 * `{ error: { code, message, status } }` (also wrapped in an array).
 */
export function parseErrorBody(body: unknown): ErrorBodyFields {
  const root = Array.isArray(body) ? body[0] : body;
  if (typeof root === 'string') return { message: root };
  if (root === null || typeof root !== 'object') return {};
  const record = root as Record<string, unknown>;
  const out: ErrorBodyFields = {};
  if (typeof record.request_id === 'string') out.requestId = record.request_id;
  const inner = record.error ?? (record.object === 'error' ? record : undefined);
  if (typeof inner === 'string') {
    out.message = inner;
    return out;
  }
  if (inner === null || typeof inner !== 'object') {
    if (typeof record.message === 'string') out.message = record.message;
    return out;
  }
  const error = inner as Record<string, unknown>;
  if (typeof error.message === 'string') out.message = error.message;
  const type =
    typeof error.type === 'string' ? error.type : typeof error.status === 'string' ? error.status : undefined;
  if (type !== undefined) out.type = type;
  if (typeof error.code === 'string') out.providerCode = error.code;
  if (typeof error.code === 'number') {
    out.providerCode = String(error.code);
    if (error.code >= 400 && error.code < 600) out.status = error.code;
  }
  return out;
}

/** Maps a provider's error `type` (Anthropic, Gemini `status`, OpenAI `type`) to the HTTP status it stands for. */
export function statusForErrorType(type: string | undefined): number | undefined {
  switch (type) {
    case 'invalid_request_error':
    case 'INVALID_ARGUMENT':
    case 'FAILED_PRECONDITION':
      return 400;
    case 'authentication_error':
    case 'UNAUTHENTICATED':
      return 401;
    case 'permission_error':
    case 'PERMISSION_DENIED':
      return 403;
    case 'not_found_error':
    case 'NOT_FOUND':
      return 404;
    case 'request_too_large':
      return 413;
    case 'rate_limit_error':
    case 'RESOURCE_EXHAUSTED':
    case 'rate_limit_exceeded':
      return 429;
    case 'api_error':
    case 'server_error':
    case 'INTERNAL':
      return 500;
    case 'UNAVAILABLE':
      return 503;
    case 'DEADLINE_EXCEEDED':
      return 504;
    case 'overloaded_error':
      return 529;
    default:
      return undefined;
  }
}
