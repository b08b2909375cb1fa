// A real loopback HTTP server that speaks one model provider's wire format
// (streamed, or one whole JSON body for a request that does not stream; the
// OpenAI server also answers the Responses API), records what it received,
// and injects faults on request: failing statuses with headers, a mid-stream
// error event, a dropped connection, a stall, or a hold that waits for the
// test before sending the rest.

import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { splitIntoTokens } from '../models/tokens.ts';
import { type FakeImagesOptions, isImageRoute, serveGeminiImage, serveOpenAIImages } from './fake-images.ts';
import { listenLoopback } from './loopback.ts';
import { encodeResponses, encodeResponsesStreamError, responsesObject } from './responses.ts';
import { arrayElement, arrayEnd, asJSONArray, wholeReply } from './whole.ts';
import {
  type EncodeOptions,
  encodeReply,
  encodeStreamError,
  errorResponseBody,
  type FakeProvider,
  type FakeReply,
  type FakeStreamError,
  type OpenAIDialect,
} from './wire.ts';

/** A status the server answers instead of streaming. */
export interface FakeFailure {
  status: number;
  /** e.g. `{ 'retry-after-ms': '10' }`, `{ 'x-should-retry': 'false' }`. */
  headers?: Record<string, string>;
  message?: string;
  /** Provider error type in the body (default: the provider's type for the status). */
  type?: string;
  /** Provider error code in the body (OpenAI shape). */
  code?: string;
  /** A raw body to send instead of the provider's error shape. */
  body?: unknown;
}

/** One conversation message as the server understood it, whatever the provider format. */
export interface FakeMessage {
  role: 'system' | 'user' | 'assistant' | 'tool';
  text: string;
}

/** A request the server received. */
export interface RecordedRequest {
  /** 0 for the first request. */
  readonly index: number;
  readonly method: string;
  /** Path and query, e.g. '/v1/chat/completions'. */
  readonly path: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The parsed JSON body (undefined if it was not JSON). */
  readonly body: unknown;
  /** The conversation, normalized across providers. */
  readonly messages: readonly FakeMessage[];
  /** Resolves when the response closed; `finished` is false when the client went away (or the server dropped it) first. */
  readonly closed: Promise<{ finished: boolean }>;
  /** Text/reasoning chunks written so far. */
  readonly tokensSent: number;
}

/** What `reply` may return. */
export type FakeReplyLike = string | readonly string[] | FakeReply;

/** Options of `startFakeModelServer`; only `provider` is required. */
export interface FakeModelServerOptions {
  provider: FakeProvider;
  /** The answer, or a function of the request; default 'Hello from the fake model.'. Strings stream word by word. */
  reply?: FakeReplyLike | ((request: RecordedRequest) => FakeReplyLike);
  /** OpenAI-compatible server flavour (error shapes, keep-alive comments, reasoning field). Default 'openai'. */
  dialect?: OpenAIDialect;
  /** When set, requests must carry this key (the provider's header) or get a 401 that echoes what they sent. */
  apiKey?: string;
  /** Wait before every chunk after the first (global setTimeout). Default 0. */
  delayMs?: number;
  /** Wait before the first chunk, after the headers. Default 0. */
  firstDelayMs?: number;
  /** Wait before sending the response headers. Default 0. */
  headersDelayMs?: number;
  /** Write every chunk in pieces of this many bytes (splitting UTF-8 characters), one event-loop turn apart. */
  splitBytes?: number;
  /**
   * Answer with this status instead; an array gives request i the failure i (then stream normally);
   * a function decides from the request itself (its body, messages, headers), whatever order
   * requests arrive in: return a failure, or undefined to answer normally.
   */
  fail?:
    | (FakeFailure & { times?: number })
    | readonly FakeFailure[]
    | ((request: RecordedRequest) => FakeFailure | undefined);
  /** Send the provider's error event after `after` text chunks, then end the response. */
  streamError?: FakeStreamError & { after: number };
  /** Destroy the connection after this many text chunks. */
  dropAfter?: number;
  /** Stop sending (keep the connection open) after this many text chunks. */
  stallAfter?: number;
  /** Pause after this many text chunks until `release()` is called. */
  holdAfter?: number;
  /** Mid-stream faults (streamError, dropAfter, stallAfter) apply to the first N successful streams only. Default: all. */
  faultyRequests?: number;
  /** Send SSE comment lines (`: OPENROUTER PROCESSING`) before and between chunks. Default: true for dialect 'openrouter'. */
  keepAliveComments?: boolean;
  /** A trailing assistant message is a prefill: the reply continues after it when it is a prefix of the reply. Default true. */
  continuePrefill?: boolean;
  /** Image endpoints: OpenAI /v1/images/generations and /edits, Gemini image output (see fake-images.ts). */
  images?: FakeImagesOptions;
  /** Listen address; default 127.0.0.1 and a free port. */
  host?: string;
  port?: number;
}

/** A running fake model server. */
export interface FakeModelServer {
  readonly provider: FakeProvider;
  /** The origin, e.g. 'http://127.0.0.1:41234'. */
  readonly origin: string;
  /** The baseURL to give the provider's processor (OpenAI: origin + '/v1'; others: the origin). */
  readonly baseURL: string;
  /** Same as `baseURL`. */
  readonly url: string;
  /** Every request received, in arrival order. */
  readonly requests: readonly RecordedRequest[];
  /** Sockets currently open. */
  readonly openConnections: number;
  /** Resolves when `count` requests have arrived (already or later). */
  waitForRequests(count: number): Promise<readonly RecordedRequest[]>;
  /** Resolves with the request when one reaches the `holdAfter` point. */
  waitForHold(): Promise<RecordedRequest>;
  /** Lets held and future requests go on past `holdAfter`. */
  release(): void;
  /** Stops listening and destroys every open connection. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((item) => {
        if (typeof item === 'string') return item;
        if (item && typeof item === 'object') {
          const record = item as Record<string, unknown>;
          if (typeof record.text === 'string' && record.thought !== true) return record.text;
          if (record.type === 'tool_result') return textOf(record.content);
          if (record.functionResponse)
            return JSON.stringify((record.functionResponse as Record<string, unknown>).response);
        }
        return '';
      })
      .join('');
  }
  return '';
}

function normalizeRole(role: unknown): FakeMessage['role'] {
  if (role === 'assistant' || role === 'model') return 'assistant';
  if (role === 'system' || role === 'developer') return 'system';
  if (role === 'tool' || role === 'function') return 'tool';
  return 'user';
}

/**
 * The conversation of a request body in any provider's format, as
 * `{ role, text }` messages in order (images and thoughts left out). Pure.
 */
export function messagesOf(provider: FakeProvider, body: unknown): FakeMessage[] {
  if (!body || typeof body !== 'object') return [];
  const record = body as Record<string, unknown>;
  const out: FakeMessage[] = [];
  if (provider === 'gemini') {
    const system = record.systemInstruction as { parts?: unknown } | undefined;
    if (system?.parts) out.push({ role: 'system', text: textOf(system.parts) });
    for (const content of (record.contents as Record<string, unknown>[] | undefined) ?? []) {
      out.push({ role: normalizeRole(content.role), text: textOf(content.parts) });
    }
    return out;
  }
  if (provider === 'anthropic' && record.system !== undefined)
    out.push({ role: 'system', text: textOf(record.system) });
  if (provider === 'openai' && record.input !== undefined) return responsesMessages(record);
  for (const message of (record.messages as Record<string, unknown>[] | undefined) ?? []) {
    out.push({ role: normalizeRole(message.role), text: textOf(message.content) });
  }
  return out;
}

/** The conversation of a Responses API body: `instructions`, then the `input` string or items. */
function responsesMessages(record: Record<string, unknown>): FakeMessage[] {
  const out: FakeMessage[] = [];
  if (typeof record.instructions === 'string') out.push({ role: 'system', text: record.instructions });
  if (typeof record.input === 'string') {
    out.push({ role: 'user', text: record.input });
    return out;
  }
  for (const item of Array.isArray(record.input) ? (record.input as Record<string, unknown>[]) : []) {
    if (item?.type === 'function_call_output') out.push({ role: 'tool', text: textOf(item.output) });
    else if (item?.type === 'function_call') out.push({ role: 'assistant', text: '' });
    else if (item && typeof item === 'object' && 'role' in item)
      out.push({ role: normalizeRole(item.role), text: textOf(item.content) });
  }
  return out;
}

/**
 * Which API a request calls and how it is answered: server-sent events, NDJSON, Gemini's streamed
 * JSON array, or one whole JSON body (a request that does not stream).
 */
interface Route {
  api: 'chat' | 'responses' | 'messages' | 'ollama' | 'gemini';
  framing: 'sse' | 'ndjson' | 'json-array' | 'json';
}

function routeOf(provider: FakeProvider, url: URL, body: unknown): Route | undefined {
  const streams = (body as { stream?: unknown } | undefined)?.stream;
  switch (provider) {
    case 'openai':
      // Some OpenAI-compatible servers also answer without the /v1 prefix.
      if (url.pathname === '/v1/chat/completions' || url.pathname === '/chat/completions')
        return { api: 'chat', framing: streams === true ? 'sse' : 'json' };
      if (url.pathname === '/v1/responses' || url.pathname === '/responses')
        return { api: 'responses', framing: streams === true ? 'sse' : 'json' };
      return undefined;
    case 'anthropic':
      return url.pathname === '/v1/messages'
        ? { api: 'messages', framing: streams === true ? 'sse' : 'json' }
        : undefined;
    case 'ollama':
      // Ollama streams unless told not to (its JS client sends `stream: false` by default).
      return url.pathname === '/api/chat'
        ? { api: 'ollama', framing: streams === false ? 'json' : 'ndjson' }
        : undefined;
    case 'gemini': {
      const method = /^\/v1(?:beta)?\/models\/[^/:]+:(streamGenerateContent|generateContent)$/.exec(url.pathname)?.[1];
      if (method === 'generateContent') return { api: 'gemini', framing: 'json' };
      if (method === 'streamGenerateContent')
        return { api: 'gemini', framing: url.searchParams.get('alt') === 'sse' ? 'sse' : 'json-array' };
      return undefined;
    }
  }
}

function toReply(value: FakeReplyLike): FakeReply {
  if (typeof value === 'string' || Array.isArray(value)) return { text: value as string | readonly string[] };
  return value as FakeReply;
}

/** Drops the already-written prefix from the reply's text tokens (prefill continuation). */
function continueAfter(reply: FakeReply, prefix: string): FakeReply {
  if (reply.text === undefined || prefix === '') return reply;
  const list = typeof reply.text === 'string' ? splitIntoTokens(reply.text) : [...reply.text];
  const full = list.join('');
  if (!full.startsWith(prefix) || full === prefix) return reply;
  const rest: string[] = [];
  let consumed = 0;
  for (const token of list) {
    const end = consumed + token.length;
    if (end <= prefix.length) {
      consumed = end;
      continue;
    }
    rest.push(consumed < prefix.length ? token.slice(prefix.length - consumed) : token);
    consumed = end;
  }
  return { ...reply, text: rest };
}

function authorized(provider: FakeProvider, req: IncomingMessage, url: URL, key: string): string | true {
  const header = (name: string) => {
    const value = req.headers[name];
    return Array.isArray(value) ? value[0] : value;
  };
  let sent: string | undefined;
  // Anthropic takes `x-api-key` or (as its 1.x SDK sends) `Authorization: Bearer`.
  if (provider === 'anthropic') sent = header('x-api-key') ?? header('authorization')?.replace(/^Bearer\s+/i, '');
  else if (provider === 'gemini') sent = header('x-goog-api-key') ?? url.searchParams.get('key') ?? undefined;
  else sent = header('authorization')?.replace(/^Bearer\s+/i, '');
  return sent === key ? true : (sent ?? '');
}

/** What the real service would refuse with a 400 in this request, or undefined. */
function invalidRequest(provider: FakeProvider, req: IncomingMessage, body: unknown): string | undefined {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return 'the request body must be a JSON object';
  const record = body as Record<string, unknown>;
  if (provider !== 'gemini' && (typeof record.model !== 'string' || record.model === '')) {
    return provider === 'anthropic' ? 'model: Field required' : 'you must provide a model parameter';
  }
  if (provider === 'anthropic') {
    if (req.headers['anthropic-version'] === undefined) return 'anthropic-version: header is required';
    if (typeof record.max_tokens !== 'number') return 'max_tokens: Field required';
  }
  if (provider === 'openai' && record.stream_options != null && record.stream !== true) {
    return "The 'stream_options' parameter is only allowed when 'stream' is enabled.";
  }
  return undefined;
}

function wait(ms: number): Promise<void> {
  return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
}

/**
 * Starts a fake model server on loopback (a free port by default) speaking
 * `provider`'s streaming format. Requests are served concurrently, each
 * recorded in `requests`; `close()` destroys open connections, so a stalled
 * stream never keeps a test alive. Timers use the global setTimeout.
 */
export async function startFakeModelServer(options: FakeModelServerOptions): Promise<FakeModelServer> {
  const { provider } = options;
  const dialect = options.dialect ?? 'openai';
  const requests: RecordedRequest[] = [];
  const requestWaiters: { count: number; resolve: (value: readonly RecordedRequest[]) => void }[] = [];
  const holdWaiters: ((request: RecordedRequest) => void)[] = [];
  const held: RecordedRequest[] = [];
  let released = false;
  let releaseHeld: (() => void)[] = [];
  let streamsStarted = 0;
  const failures = options.fail;
  const keepAliveComments = options.keepAliveComments ?? dialect === 'openrouter';

  const failureFor = (request: RecordedRequest): FakeFailure | undefined => {
    const index = request.index;
    if (!failures) return undefined;
    if (typeof failures === 'function') return failures(request);
    if (Array.isArray(failures)) return failures[index];
    const single = failures as FakeFailure & { times?: number };
    return index < (single.times ?? 1) ? single : undefined;
  };

  const sendError = (
    res: ServerResponse,
    requestId: string,
    status: number,
    message: string,
    failure?: FakeFailure,
  ) => {
    const body =
      failure?.body ??
      errorResponseBody(provider, status, message, { dialect, type: failure?.type, code: failure?.code });
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(status, {
      'content-type': typeof body === 'string' ? 'text/plain' : 'application/json',
      ...requestIdHeader(requestId),
      ...failure?.headers,
    });
    res.end(text);
  };

  // Each request's own id (a shared counter read at response time gave concurrent requests one id).
  const requestIdHeader = (id: string): Record<string, string> => {
    if (provider === 'openai') return { 'x-request-id': id };
    if (provider === 'anthropic') return { 'request-id': id };
    if (provider === 'gemini') return { 'x-goog-request-id': id };
    return {};
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    // A client that went away makes late writes fail; that is expected here, not a crash.
    res.on('error', () => {});
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const bytes = Buffer.concat(chunks);
    const raw = bytes.toString('utf8');
    let body: unknown;
    let malformed = false;
    // A multipart body (OpenAI /images/edits) is not JSON: the image route reads it itself.
    const multipart = (req.headers['content-type'] ?? '').startsWith('multipart/form-data');
    try {
      body = raw && !multipart ? JSON.parse(raw) : undefined;
    } catch {
      body = undefined;
      malformed = true;
    }
    const url = new URL(req.url ?? '/', 'http://fake');
    let finishedResolve: (value: { finished: boolean }) => void = () => {};
    const closed = new Promise<{ finished: boolean }>((resolve) => {
      finishedResolve = resolve;
    });
    let tokensSent = 0;
    const recorded: RecordedRequest = {
      index: requests.length,
      method: req.method ?? 'GET',
      path: `${url.pathname}${url.search}`,
      headers: req.headers,
      body,
      messages: messagesOf(provider, body),
      closed,
      get tokensSent() {
        return tokensSent;
      },
    };
    const requestId = `req_fake_${recorded.index}`;
    requests.push(recorded);
    res.on('close', () => finishedResolve({ finished: res.writableFinished }));
    for (const waiter of requestWaiters.splice(0)) {
      if (requests.length >= waiter.count) waiter.resolve(requests.slice());
      else requestWaiters.push(waiter);
    }

    if (options.headersDelayMs) await wait(options.headersDelayMs);
    if (res.destroyed) return;

    const image = req.method === 'POST' && isImageRoute(provider, url.pathname, body);
    const route = req.method === 'POST' ? routeOf(provider, url, body) : undefined;
    if (!route && !image) {
      sendError(res, requestId, 404, `fake ${provider} server: no route for ${req.method} ${url.pathname}`);
      return;
    }
    if (options.apiKey !== undefined) {
      const check = authorized(provider, req, url, options.apiKey);
      if (check !== true) {
        sendError(res, requestId, 401, `Incorrect API key provided: ${check}.`, {
          status: 401,
          code: 'invalid_api_key',
          type: provider === 'gemini' ? 'UNAUTHENTICATED' : undefined,
        });
        return;
      }
    }
    const invalid = malformed
      ? 'We could not parse the JSON body of your request. Send valid JSON.'
      : image
        ? undefined
        : invalidRequest(provider, req, body);
    if (invalid !== undefined) {
      sendError(res, requestId, 400, invalid, {
        status: 400,
        type: provider === 'gemini' ? 'INVALID_ARGUMENT' : undefined,
      });
      return;
    }
    const failure = failureFor(recorded);
    if (failure) {
      sendError(
        res,
        requestId,
        failure.status,
        failure.message ?? `fake ${provider} failure ${failure.status}`,
        failure,
      );
      return;
    }

    if (image) {
      const imageRequest = {
        path: url.pathname,
        headers: req.headers,
        raw: bytes,
        body,
        res,
        delayMs: options.delayMs ?? 0,
        options: options.images ?? {},
      };
      if (provider === 'gemini') await serveGeminiImage(imageRequest, recorded.messages.at(-1)?.text ?? '');
      else await serveOpenAIImages(imageRequest);
      return;
    }
    // Not an image request, so it has a route (a request with neither got the 404 above).
    if (!route) return;
    const replyOption = options.reply ?? 'Hello from the fake model.';
    let reply = toReply(typeof replyOption === 'function' ? replyOption(recorded) : replyOption);
    const last = recorded.messages.at(-1);
    if ((options.continuePrefill ?? true) && last?.role === 'assistant') reply = continueAfter(reply, last.text);
    if (!reply.usage) {
      const inputTokens = recorded.messages.reduce((sum, m) => sum + splitIntoTokens(m.text).length, 0);
      reply = { ...reply, usage: { inputTokens, outputTokens: countTokens(reply) } };
    }
    const record = (body ?? {}) as Record<string, unknown>;
    const model =
      typeof record.model === 'string'
        ? record.model
        : (/^\/v1(?:beta)?\/models\/([^/:]+)/.exec(url.pathname)?.[1] ?? 'fake-model');
    const encodeOptions: EncodeOptions = {
      model,
      dialect,
      includeUsage:
        provider !== 'openai' ||
        (record.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true,
      n: typeof record.n === 'number' && record.n > 1 ? record.n : undefined,
    };
    const ids = { id: `resp_fake_${recorded.index}` };
    if (route.framing === 'json') {
      // A request that does not stream gets one body; only `fail` applies (mid-stream faults need a stream).
      const whole =
        route.api === 'responses'
          ? responsesObject(reply, { ...encodeOptions, ...ids })
          : wholeReply(provider, reply, encodeOptions);
      res.writeHead(200, { 'content-type': 'application/json', ...requestIdHeader(requestId) });
      res.end(JSON.stringify(whole));
      return;
    }
    const sse = route.framing === 'sse';
    const array = route.framing === 'json-array';
    let wire =
      route.api === 'responses'
        ? encodeResponses(reply, { ...encodeOptions, ...ids })
        : encodeReply(provider, reply, encodeOptions);
    if (array) wire = asJSONArray(wire);
    const faulty = streamsStarted++ < (options.faultyRequests ?? Number.POSITIVE_INFINITY);

    res.writeHead(200, {
      'content-type': sse
        ? 'text/event-stream; charset=utf-8'
        : array
          ? 'application/json; charset=UTF-8'
          : 'application/x-ndjson',
      'cache-control': 'no-cache',
      ...requestIdHeader(requestId),
    });
    res.flushHeaders();
    let chunksSent = 0;
    /** The end of the body: Gemini's JSON array is closed, other framings need nothing. */
    const finish = async () => {
      if (array) await write(arrayEnd(chunksSent));
      res.end();
    };

    const write = async (data: string) => {
      if (res.destroyed) return;
      // Each write resolves once flushed, so a drop right after it loses nothing.
      const flush = (piece: string | Uint8Array) =>
        new Promise<void>((resolve) => {
          if (res.destroyed) resolve();
          else res.write(piece, () => resolve());
        });
      if (!options.splitBytes) {
        await flush(data);
        return;
      }
      const bytes = Buffer.from(data, 'utf8');
      for (let i = 0; i < bytes.length && !res.destroyed; i += options.splitBytes) {
        await flush(bytes.subarray(i, i + options.splitBytes));
        await new Promise((resolve) => setImmediate(resolve));
      }
    };

    // A fault fires once `after` text chunks went out, before the next chunk.
    const faultAt = (after: number | undefined) => faulty && after !== undefined && tokensSent === after;
    /** Fires the fault due now, if any (first of: error event, dropped connection, stall); true when the response is over. */
    const fault = async (): Promise<boolean> => {
      if (faultAt(options.streamError?.after)) {
        const error = options.streamError ?? {};
        if (route.api === 'responses') await write(encodeResponsesStreamError(error));
        else if (array) {
          await write(
            `${chunksSent === 0 ? '[' : ',\r\n'}${arrayElement(encodeStreamError(provider, error, encodeOptions))}`,
          );
          chunksSent++;
        } else await write(encodeStreamError(provider, error, encodeOptions));
        await finish();
        return true;
      }
      if (faultAt(options.dropAfter)) {
        req.socket.destroy();
        return true;
      }
      if (faultAt(options.stallAfter)) {
        await once(res, 'close');
        return true;
      }
      return false;
    };
    let first = true;
    for (const chunk of wire) {
      if (res.destroyed) return;
      if (faultAt(options.holdAfter) && !released) {
        const waiters = holdWaiters.splice(0);
        if (waiters.length === 0) held.push(recorded);
        for (const waiter of waiters) waiter(recorded);
        await new Promise<void>((resolve) => {
          releaseHeld.push(resolve);
          res.once('close', resolve);
        });
        if (res.destroyed) return;
      }
      if (await fault()) return;
      await wait(first ? (options.firstDelayMs ?? 0) : (options.delayMs ?? 0));
      first = false;
      if (res.destroyed) return;
      if (keepAliveComments && sse) await write(': OPENROUTER PROCESSING\n\n');
      await write(chunk.data);
      chunksSent++;
      if (chunk.token) tokensSent++;
    }
    // Faults placed after the last text chunk still fire, before the end.
    if (await fault()) return;
    await finish();
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`fake server error: ${error instanceof Error ? error.message : String(error)}`);
      } else {
        res.destroy();
      }
    });
  });
  const listener = await listenLoopback(server, options);
  const { origin } = listener;
  const baseURL = provider === 'openai' ? `${origin}/v1` : origin;

  const close = async () => {
    released = true;
    for (const resolve of releaseHeld.splice(0)) resolve();
    await listener.close();
  };

  return {
    provider,
    origin,
    baseURL,
    url: baseURL,
    requests,
    get openConnections() {
      return listener.openConnections;
    },
    waitForRequests(count: number) {
      if (requests.length >= count) return Promise.resolve(requests.slice());
      return new Promise((resolve) => requestWaiters.push({ count, resolve }));
    },
    waitForHold() {
      const already = held.shift();
      if (already) return Promise.resolve(already);
      return new Promise((resolve) => holdWaiters.push(resolve));
    },
    release() {
      released = true;
      const pending = releaseHeld;
      releaseHeld = [];
      for (const resolve of pending) resolve();
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

function countTokens(reply: FakeReply): number {
  const count = (value: string | readonly string[] | undefined) =>
    value === undefined ? 0 : typeof value === 'string' ? splitIntoTokens(value).length : value.length;
  return count(reply.text) + count(reply.reasoning);
}
