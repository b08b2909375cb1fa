// Runs one model call: send the request through the transport, decode the
// framing (SSE or NDJSON) into provider JSON, feed the provider's decoder,
// and yield neutral events as soon as each arrives. Transient failures are
// retried here, before the first event is yielded: connection errors,
// retryable statuses, and error events that arrive before any output.

import { decodeNDJSON, NDJSONError, type SSEEvent, SSEParser } from '@sluice/streams';
import {
  APIConnectionError,
  type APIError,
  type ErrorBodyFields,
  hintFor,
  InternalServerError,
  makeStatusError,
  redact,
  redactText,
  statusForErrorType,
  UnexpectedResponseError,
} from '../http/errors.ts';
import { isRetryableError, RETRY_DEFAULTS, retryDelayMs, sleep } from '../http/retry-policy.ts';
import { type HTTPRequest, type HTTPStream, openStream, secretsOf, type TransportOptions } from '../http/transport.ts';
import type { ModelEvent, StreamDecoder } from './events.ts';
import type { ModelOptions } from './options.ts';

/** Everything `runModel` needs for one call. */
export interface ModelCall {
  provider: string;
  framing: 'sse' | 'ndjson';
  request: HTTPRequest;
  createDecoder: () => StreamDecoder;
  transport: TransportOptions;
  /** Retries after the first attempt; default 2. */
  maxRetries?: number;
}

/** The key of a call: `options.apiKey`, else the environment variable `apiKeyEnv` names (none when it is ''). */
export function apiKeyOf(options: ModelOptions, apiKeyEnv: string | undefined): string | undefined {
  return options.apiKey ?? (apiKeyEnv ? process.env[apiKeyEnv] : undefined);
}

/** What differs between the providers' streaming JSON POSTs. */
export interface JSONCallSpec {
  provider: string;
  framing: 'sse' | 'ndjson';
  url: string;
  body: unknown;
  /** The key (it is redacted from every error) and the variable it came from (named in hints). */
  apiKey: string | undefined;
  apiKeyEnv: string | undefined;
  /** The provider's headers carrying the key, given only when there is a key. */
  authHeaders: (apiKey: string) => Record<string, string>;
  /** Fixed headers of the provider (e.g. its API version). */
  headers?: Record<string, string>;
  createDecoder: () => StreamDecoder;
}

/**
 * A model call POSTing `spec.body` as JSON and reading the stream in `spec.framing`; the caller's
 * `options` add headers (last, so they win), transport settings and `maxRetries`/`retries`.
 */
export function jsonModelCall(spec: JSONCallSpec, options: ModelOptions): ModelCall {
  const { provider, apiKey } = spec;
  return {
    provider,
    framing: spec.framing,
    request: {
      url: spec.url,
      headers: {
        'content-type': 'application/json',
        accept: spec.framing === 'sse' ? 'text/event-stream' : 'application/x-ndjson',
        ...spec.headers,
        ...(apiKey ? spec.authHeaders(apiKey) : {}),
        ...options.headers,
      },
      body: JSON.stringify(spec.body),
      provider,
      apiKeyEnv: spec.apiKeyEnv,
      secrets: apiKey ? [apiKey] : [],
    },
    createDecoder: spec.createDecoder,
    transport: options,
    maxRetries: options.maxRetries ?? options.retries,
  };
}

/** Information passed to `onRetry` before each retry. */
export interface RetryInfo {
  /** 1 for the first retry. */
  retry: number;
  maxRetries: number;
  delayMs: number;
  error: unknown;
}

/** The typed error for an error event (or a truncated stream) found by a decoder. */
export function streamEventError(
  provider: string,
  fields: ErrorBodyFields,
  context: {
    requestId?: string;
    secrets?: readonly string[];
    truncated?: boolean;
    unexpected?: boolean;
    apiKeyEnv?: string;
  },
): APIError {
  const secrets = context.secrets ?? [];
  if (context.unexpected) {
    const hint = 'the service sent a stream this processor cannot decode; report it with the request id';
    return new UnexpectedResponseError(
      redactText(`${provider}: ${fields.message ?? 'unexpected stream content'}`, secrets),
      { provider, requestId: context.requestId, hint },
    );
  }
  if (context.truncated) {
    return new APIConnectionError(redactText(`${provider}: ${fields.message ?? 'the stream ended early'}`, secrets), {
      provider,
      requestId: context.requestId,
      hint: 'the connection was cut mid-stream; wrap the processor in retry() to resume it',
    });
  }
  const status = fields.status ?? statusForErrorType(fields.type);
  const message = `${provider}: error event in the stream${fields.type ? ` (${fields.type})` : ''}: ${
    fields.message ?? 'no message'
  }${context.requestId ? ` [request id ${context.requestId}]` : ''}`;
  const init = {
    type: fields.type,
    providerCode: fields.providerCode,
    requestId: context.requestId ?? fields.requestId,
    provider,
    body: redact(fields, secrets),
  };
  // The server accepted the request (200) and then failed: without a status
  // or a known type, that is a server-side failure, retried like a 5xx.
  if (status === undefined) {
    return new InternalServerError(redactText(message, secrets), { ...init, hint: hintFor(500, provider) });
  }
  return makeStatusError(status, redactText(message, secrets), {
    ...init,
    hint: hintFor(status, provider, context.apiKeyEnv),
  });
}

interface Frame {
  event?: string;
  value: unknown;
  /** The framing's own end marker (SSE `data: [DONE]`): `value` is undefined, and no frame follows. */
  terminator?: true;
}

function invalidJSON(provider: string, text: string, secrets: readonly string[]): APIError {
  const quoted = text.length > 200 ? `${text.slice(0, 200)}...` : text;
  const hint = 'the server does not speak this provider format; check the baseURL and the processor';
  return new UnexpectedResponseError(
    redactText(`${provider}: the stream sent invalid JSON: ${JSON.stringify(quoted)} (${hint})`, secrets),
    { provider, hint },
  );
}

/**
 * SSE events of a model stream as parsed JSON, each as soon as its blank
 * line arrives. Comments (keep-alives) are skipped; `[DONE]` ends the data
 * and is delivered as a `terminator` frame (anything after it is ignored);
 * a last event missing its blank line is still delivered.
 */
export async function* sseFrames(
  body: AsyncIterable<Uint8Array>,
  provider: string,
  secrets: readonly string[] = [],
): AsyncGenerator<Frame> {
  const parser = new SSEParser();
  const decoder = new TextDecoder('utf-8');
  const events: SSEEvent[] = [];
  const emit = (event: SSEEvent) => {
    events.push(event);
  };
  let done = false;
  const frame = (event: SSEEvent): Frame | undefined => {
    if (done) return undefined;
    const data = event.data;
    if (data === '[DONE]') {
      done = true;
      return { value: undefined, terminator: true };
    }
    if (data.trim() === '') return undefined;
    try {
      return { event: event.event, value: JSON.parse(data) };
    } catch {
      throw invalidJSON(provider, data, secrets);
    }
  };
  for await (const chunk of body) {
    parser.feed(decoder.decode(chunk, { stream: true }), emit);
    while (events.length > 0) {
      const out = frame(events.shift()!);
      if (out) yield out;
    }
  }
  parser.feed(`${decoder.decode()}\n\n`, emit);
  for (const event of events.splice(0)) {
    const out = frame(event);
    if (out) yield out;
  }
}

/** NDJSON lines of a model stream as parsed JSON; invalid JSON is an `APIError` quoting the line. */
export async function* ndjsonFrames(
  body: AsyncIterable<Uint8Array>,
  provider: string,
  secrets: readonly string[] = [],
): AsyncGenerator<Frame> {
  try {
    for await (const value of decodeNDJSON(body)) yield { value };
  } catch (error) {
    if (error instanceof NDJSONError) throw invalidJSON(provider, error.text, secrets);
    throw error;
  }
}

/**
 * A whole JSON body (a server that ignored `stream: true`): the object, or
 * each element of an array, as frames once the body has arrived.
 */
export async function* jsonFrames(
  body: AsyncIterable<Uint8Array>,
  provider: string,
  secrets: readonly string[] = [],
): AsyncGenerator<Frame> {
  const decoder = new TextDecoder('utf-8');
  let text = '';
  for await (const chunk of body) text += decoder.decode(chunk, { stream: true });
  text += decoder.decode();
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw invalidJSON(provider, text, secrets);
  }
  for (const item of Array.isArray(value) ? value : [value]) yield { value: item };
}

/**
 * Streams one model call as neutral events, in wire order, each as soon as
 * it is decoded. Failures before the first event are retried (up to
 * `maxRetries`, backoff per the retry policy, `onRetry` called before each
 * wait); after it they are thrown. Aborting `signal` or stopping the
 * iteration closes the connection at once; an abort rejects with its reason.
 */
export async function* runModel(
  call: ModelCall,
  signal?: AbortSignal,
  onRetry?: (info: RetryInfo) => void,
): AsyncGenerator<ModelEvent> {
  const maxRetries = call.maxRetries ?? RETRY_DEFAULTS.maxRetries;
  const secrets = secretsOf(call.request);
  for (let retry = 0; ; retry++) {
    let stream: HTTPStream | undefined;
    let emitted = false;
    try {
      stream = await openStream(call.request, call.transport, signal);
      const decoder = call.createDecoder();
      const contentType = stream.headers['content-type'] ?? '';
      const whole = contentType.includes('application/json');
      const frames = whole
        ? jsonFrames(stream.body, call.provider, secrets)
        : call.framing === 'sse'
          ? sseFrames(stream.body, call.provider, secrets)
          : ndjsonFrames(stream.body, call.provider, secrets);
      const context = { requestId: stream.requestId, secrets, apiKeyEnv: call.request.apiKeyEnv };
      // A whole JSON body cannot have been cut (it parsed); a stream is terminated only by its marker.
      const ending = { terminated: whole };
      for await (const frame of frames) {
        if (frame.terminator) {
          ending.terminated = true;
          continue;
        }
        for (const event of decoder.push(frame.value, frame.event)) {
          if (event.type === 'error') {
            throw streamEventError(call.provider, event.fields, { ...context, unexpected: event.unexpected });
          }
          emitted = true;
          yield event;
        }
      }
      for (const event of decoder.end(ending)) {
        if (event.type === 'error') {
          throw streamEventError(call.provider, event.fields, {
            ...context,
            truncated: event.truncated,
            unexpected: event.unexpected,
          });
        }
        emitted = true;
        yield event;
      }
      return;
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      if (emitted || retry >= maxRetries || !isRetryableError(error)) throw error;
      const delayMs = retryDelayMs(retry, { ...call.transport, headers: (error as APIError).headers });
      onRetry?.({ retry: retry + 1, maxRetries, delayMs, error });
      stream?.close();
      stream = undefined;
      await sleep(delayMs, signal);
    } finally {
      stream?.close();
    }
  }
}
