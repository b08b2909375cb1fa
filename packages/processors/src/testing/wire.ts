// Wire encoders of the fake model servers: a scripted reply becomes the exact
// bytes each provider streams (OpenAI chat completion chunks, Anthropic
// message events, Ollama /api/chat NDJSON, Gemini streamGenerateContent SSE
// with CRLF framing and repeated usage). Shared by the fake server, the
// parser tests and the benchmarks.

import { splitIntoPieces, splitIntoTokens } from '../models/tokens.ts';

/** A provider wire format spoken by the fake server. */
export type FakeProvider = 'openai' | 'anthropic' | 'ollama' | 'gemini';

/** Deviations of OpenAI-compatible servers: error shapes, keep-alive comments, the reasoning field. */
export type OpenAIDialect = 'openai' | 'vllm' | 'lmstudio' | 'openrouter' | 'llamacpp';

/** A tool call the fake model makes. */
export interface FakeToolCall {
  id?: string;
  name: string;
  args: unknown;
}

/** What the fake model answers. Text and reasoning are streamed token by token. */
export interface FakeReply {
  /** The answer; a string is split into word tokens, an array is sent one element per chunk. */
  text?: string | readonly string[];
  /** Reasoning/thinking streamed before the text. */
  reasoning?: string | readonly string[];
  toolCalls?: readonly FakeToolCall[];
  /** Defaults: input = words in the request, output = number of chunks sent. */
  usage?: { inputTokens: number; outputTokens: number };
  /** Provider-native finish reason; default 'stop' / 'end_turn' / 'STOP' (tool calls: 'tool_calls' / 'tool_use'). */
  finishReason?: string;
}

/** One framed chunk (an SSE event or an NDJSON line); `token` marks chunks carrying a text or reasoning delta. */
export interface WireChunk {
  readonly data: string;
  readonly token: boolean;
}

/** A mid-stream failure in the provider's error-event format. */
export interface FakeStreamError {
  /** HTTP status the error stands for (default 500; 529 for Anthropic overloaded). */
  status?: number;
  /** Provider error type, e.g. 'overloaded_error', 'server_error'. */
  type?: string;
  message?: string;
}

/** Encoding options. */
export interface EncodeOptions {
  model: string;
  dialect?: OpenAIDialect;
  /** OpenAI: send the usage chunk (the client asked with stream_options.include_usage). Default true. */
  includeUsage?: boolean;
  /** OpenAI chat completions: the number of choices (request `n`); each chunk is sent once per choice. Default 1. */
  n?: number;
}

function tokens(value: string | readonly string[] | undefined): string[] {
  if (value === undefined) return [];
  return typeof value === 'string' ? splitIntoTokens(value) : [...value];
}

const sse = (payload: unknown): string => `data: ${JSON.stringify(payload)}\n\n`;
const namedSSE = (event: string, payload: unknown): string => `event: ${event}\ndata: ${JSON.stringify(payload)}\n\n`;
const crlfSSE = (payload: unknown): string => `data: ${JSON.stringify(payload)}\r\n\r\n`;
const line = (payload: unknown): string => `${JSON.stringify(payload)}\n`;

function usageOf(reply: FakeReply, chunks: number): { inputTokens: number; outputTokens: number } {
  return reply.usage ?? { inputTokens: 0, outputTokens: chunks };
}

/**
 * The chunks a provider streams for `reply`, each fully framed (one SSE event
 * or NDJSON line) and in wire order; `token` marks text/reasoning deltas.
 * Pure and deterministic.
 */
export function encodeReply(provider: FakeProvider, reply: FakeReply, options: EncodeOptions): WireChunk[] {
  switch (provider) {
    case 'openai':
      return encodeOpenAI(reply, options);
    case 'anthropic':
      return encodeAnthropic(reply, options);
    case 'ollama':
      return encodeOllama(reply, options);
    case 'gemini':
      return encodeGemini(reply, options);
  }
}

function encodeOpenAI(reply: FakeReply, options: EncodeOptions): WireChunk[] {
  const base = { id: 'chatcmpl-fake', object: 'chat.completion.chunk', created: 1_700_000_000, model: options.model };
  const choice = (delta: Record<string, unknown>, finishReason: string | null = null) => ({
    ...base,
    system_fingerprint: null,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
  });
  const reasoningField = options.dialect === 'openrouter' ? 'reasoning' : 'reasoning_content';
  const out: WireChunk[] = [{ data: sse(choice({ role: 'assistant', content: '', refusal: null })), token: false }];
  const reasoning = tokens(reply.reasoning);
  const text = tokens(reply.text);
  for (const t of reasoning) out.push({ data: sse(choice({ [reasoningField]: t })), token: true });
  for (const t of text) out.push({ data: sse(choice({ content: t })), token: true });
  const calls = reply.toolCalls ?? [];
  calls.forEach((call, index) => {
    const id = call.id ?? `call_${index}`;
    out.push({
      data: sse(
        choice({ tool_calls: [{ index, id, type: 'function', function: { name: call.name, arguments: '' } }] }),
      ),
      token: false,
    });
    for (const piece of splitIntoPieces(JSON.stringify(call.args ?? {}), 7)) {
      out.push({ data: sse(choice({ tool_calls: [{ index, function: { arguments: piece } }] })), token: false });
    }
  });
  const finish = reply.finishReason ?? (calls.length > 0 ? 'tool_calls' : 'stop');
  out.push({ data: sse(choice({}, finish)), token: false });
  if (options.includeUsage !== false) {
    const usage = usageOf(reply, reasoning.length + text.length);
    out.push({
      data: sse({
        ...base,
        system_fingerprint: null,
        choices: [],
        usage: {
          prompt_tokens: usage.inputTokens,
          completion_tokens: usage.outputTokens,
          total_tokens: usage.inputTokens + usage.outputTokens,
        },
      }),
      token: false,
    });
  }
  out.push({ data: 'data: [DONE]\n\n', token: false });
  return options.n && options.n > 1 ? withChoices(out, options.n) : out;
}

/** Each chunk of choice 0 repeated for choices 1..n-1 (the usage chunk and [DONE] once); tokens counted once. */
function withChoices(chunks: readonly WireChunk[], n: number): WireChunk[] {
  return chunks.flatMap((chunk) => {
    if (!chunk.data.startsWith('data: {')) return [chunk];
    const payload = JSON.parse(chunk.data.slice('data: '.length)) as { choices: Record<string, unknown>[] };
    if (payload.choices.length !== 1) return [chunk];
    return Array.from({ length: n }, (_, index) => ({
      data: sse({ ...payload, choices: [{ ...payload.choices[0], index }] }),
      token: chunk.token && index === 0,
    }));
  });
}

function encodeAnthropic(reply: FakeReply, options: EncodeOptions): WireChunk[] {
  const reasoning = tokens(reply.reasoning);
  const text = tokens(reply.text);
  const calls = reply.toolCalls ?? [];
  const usage = usageOf(reply, reasoning.length + text.length);
  const out: WireChunk[] = [
    {
      data: namedSSE('message_start', {
        type: 'message_start',
        message: {
          id: 'msg_fake',
          type: 'message',
          role: 'assistant',
          model: options.model,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: { input_tokens: usage.inputTokens, output_tokens: 1 },
        },
      }),
      token: false,
    },
    { data: namedSSE('ping', { type: 'ping' }), token: false },
  ];
  let index = 0;
  if (reasoning.length > 0) {
    out.push({
      data: namedSSE('content_block_start', {
        type: 'content_block_start',
        index,
        content_block: { type: 'thinking', thinking: '', signature: '' },
      }),
      token: false,
    });
    for (const t of reasoning) {
      out.push({
        data: namedSSE('content_block_delta', {
          type: 'content_block_delta',
          index,
          delta: { type: 'thinking_delta', thinking: t },
        }),
        token: true,
      });
    }
    out.push({
      data: namedSSE('content_block_delta', {
        type: 'content_block_delta',
        index,
        delta: { type: 'signature_delta', signature: 'c2lnbmF0dXJl' },
      }),
      token: false,
    });
    out.push({ data: namedSSE('content_block_stop', { type: 'content_block_stop', index }), token: false });
    index++;
  }
  if (text.length > 0) {
    out.push({
      data: namedSSE('content_block_start', {
        type: 'content_block_start',
        index,
        content_block: { type: 'text', text: '' },
      }),
      token: false,
    });
    for (const t of text) {
      out.push({
        data: namedSSE('content_block_delta', {
          type: 'content_block_delta',
          index,
          delta: { type: 'text_delta', text: t },
        }),
        token: true,
      });
    }
    out.push({ data: namedSSE('content_block_stop', { type: 'content_block_stop', index }), token: false });
    index++;
  }
  calls.forEach((call, n) => {
    out.push({
      data: namedSSE('content_block_start', {
        type: 'content_block_start',
        index,
        content_block: { type: 'tool_use', id: call.id ?? `toolu_${n}`, name: call.name, input: {} },
      }),
      token: false,
    });
    for (const piece of ['', ...splitIntoPieces(JSON.stringify(call.args ?? {}), 7)]) {
      out.push({
        data: namedSSE('content_block_delta', {
          type: 'content_block_delta',
          index,
          delta: { type: 'input_json_delta', partial_json: piece },
        }),
        token: false,
      });
    }
    out.push({ data: namedSSE('content_block_stop', { type: 'content_block_stop', index }), token: false });
    index++;
  });
  out.push({
    data: namedSSE('message_delta', {
      type: 'message_delta',
      delta: { stop_reason: reply.finishReason ?? (calls.length > 0 ? 'tool_use' : 'end_turn'), stop_sequence: null },
      usage: { output_tokens: usage.outputTokens },
    }),
    token: false,
  });
  out.push({ data: namedSSE('message_stop', { type: 'message_stop' }), token: false });
  return out;
}

function encodeOllama(reply: FakeReply, options: EncodeOptions): WireChunk[] {
  const createdAt = '2024-01-01T00:00:00.000000Z';
  const message = (fields: Record<string, unknown>) =>
    line({
      model: options.model,
      created_at: createdAt,
      message: { role: 'assistant', content: '', ...fields },
      done: false,
    });
  const reasoning = tokens(reply.reasoning);
  const text = tokens(reply.text);
  const calls = reply.toolCalls ?? [];
  const out: WireChunk[] = [];
  for (const t of reasoning) out.push({ data: message({ thinking: t }), token: true });
  for (const t of text) out.push({ data: message({ content: t }), token: true });
  if (calls.length > 0) {
    out.push({
      data: message({
        tool_calls: calls.map((call, index) => ({
          ...(call.id ? { id: call.id } : {}),
          function: { index, name: call.name, arguments: call.args ?? {} },
        })),
      }),
      token: false,
    });
  }
  const usage = usageOf(reply, reasoning.length + text.length);
  out.push({
    data: line({
      model: options.model,
      created_at: createdAt,
      message: { role: 'assistant', content: '' },
      done: true,
      done_reason: reply.finishReason ?? 'stop',
      total_duration: 5_000_000,
      load_duration: 1_000_000,
      prompt_eval_count: usage.inputTokens,
      prompt_eval_duration: 1_000_000,
      eval_count: usage.outputTokens,
      eval_duration: 3_000_000,
    }),
    token: false,
  });
  return out;
}

function encodeGemini(reply: FakeReply, options: EncodeOptions): WireChunk[] {
  const reasoning = tokens(reply.reasoning);
  const text = tokens(reply.text);
  const calls = reply.toolCalls ?? [];
  const total = usageOf(reply, reasoning.length + text.length);
  const items: { part: Record<string, unknown>; token: boolean }[] = [
    ...reasoning.map((t) => ({ part: { text: t, thought: true }, token: true })),
    ...text.map((t) => ({ part: { text: t }, token: true })),
    ...calls.map((call) => ({
      part: { functionCall: { ...(call.id ? { id: call.id } : {}), name: call.name, args: call.args ?? {} } },
      token: false,
    })),
  ];
  if (items.length === 0) items.push({ part: { text: '' }, token: false });
  let sent = 0;
  return items.map(({ part, token }, index) => {
    if (token) sent++;
    const last = index === items.length - 1;
    const candidatesTokens = last ? total.outputTokens : Math.min(sent, total.outputTokens);
    return {
      data: crlfSSE({
        candidates: [
          {
            content: { parts: [part], role: 'model' },
            ...(last ? { finishReason: reply.finishReason ?? 'STOP' } : {}),
            index: 0,
          },
        ],
        usageMetadata: {
          promptTokenCount: total.inputTokens,
          candidatesTokenCount: candidatesTokens,
          totalTokenCount: total.inputTokens + candidatesTokens,
        },
        modelVersion: options.model,
        responseId: 'fake-response',
      }),
      token,
    };
  });
}

/**
 * The framed mid-stream error event of a provider (and dialect): OpenAI's
 * `{ error }` chunk, vLLM's `{ object: 'error' }`, OpenRouter's chunk with
 * `finish_reason: 'error'`, Anthropic's `error` event, Ollama's error line.
 */
export function encodeStreamError(provider: FakeProvider, error: FakeStreamError, options: EncodeOptions): string {
  const status = error.status ?? (provider === 'anthropic' ? 529 : 500);
  const message = error.message ?? (status === 529 ? 'Overloaded' : 'Internal server error');
  switch (provider) {
    case 'openai':
      switch (options.dialect) {
        case 'openrouter':
          return sse({
            id: 'gen-fake',
            object: 'chat.completion.chunk',
            created: 1_700_000_000,
            model: options.model,
            provider: 'fake',
            error: { code: status, message },
            choices: [{ index: 0, delta: { content: '' }, finish_reason: 'error', native_finish_reason: 'error' }],
          });
        case 'vllm':
          return sse({
            object: 'error',
            message,
            type: error.type ?? 'InternalServerError',
            param: null,
            code: status,
          });
        case 'lmstudio':
          return sse({ error: message });
        default:
          return sse({ error: { message, type: error.type ?? 'server_error', param: null, code: error.type ?? null } });
      }
    case 'anthropic':
      return namedSSE('error', {
        type: 'error',
        error: { type: error.type ?? (status === 529 ? 'overloaded_error' : 'api_error'), message },
      });
    case 'ollama':
      return line({ error: message });
    case 'gemini':
      return crlfSSE({ error: { code: status, message, status: error.type ?? 'INTERNAL' } });
  }
}

/**
 * The JSON body a provider (and dialect) sends with a non-2xx status, with
 * the provider's error type for the status unless `type` is given. Pure.
 */
export function errorResponseBody(
  provider: FakeProvider,
  status: number,
  message: string,
  options: { dialect?: OpenAIDialect; type?: string; code?: string } = {},
): unknown {
  switch (provider) {
    case 'openai':
      switch (options.dialect) {
        case 'vllm':
          return { object: 'error', message, type: options.type ?? 'BadRequestError', param: null, code: status };
        case 'lmstudio':
          return { error: message };
        case 'openrouter':
          return { error: { code: status, message, metadata: {} } };
        default:
          return {
            error: {
              message,
              type: options.type ?? openAIType(status),
              param: null,
              // OpenAI's 429 says what happened in `code` (its `type` is 'requests' or 'tokens').
              code: options.code ?? (status === 429 ? 'rate_limit_exceeded' : null),
            },
          };
      }
    case 'anthropic':
      return {
        type: 'error',
        error: { type: options.type ?? anthropicType(status), message },
        request_id: 'req_fake',
      };
    case 'ollama':
      return { error: message };
    case 'gemini':
      return { error: { code: status, message, status: options.type ?? geminiStatus(status) } };
  }
}

function openAIType(status: number): string {
  if (status === 401) return 'invalid_request_error';
  if (status === 429) return 'requests';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

function anthropicType(status: number): string {
  const types: Record<number, string> = {
    400: 'invalid_request_error',
    401: 'authentication_error',
    403: 'permission_error',
    404: 'not_found_error',
    413: 'request_too_large',
    429: 'rate_limit_error',
    529: 'overloaded_error',
  };
  return types[status] ?? 'api_error';
}

function geminiStatus(status: number): string {
  const statuses: Record<number, string> = {
    400: 'INVALID_ARGUMENT',
    401: 'UNAUTHENTICATED',
    403: 'PERMISSION_DENIED',
    404: 'NOT_FOUND',
    429: 'RESOURCE_EXHAUSTED',
    503: 'UNAVAILABLE',
    504: 'DEADLINE_EXCEEDED',
  };
  return statuses[status] ?? 'INTERNAL';
}
