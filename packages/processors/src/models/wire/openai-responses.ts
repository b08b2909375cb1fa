// The OpenAI Responses API (`POST /v1/responses`), streaming: the named SSE
// events `response.created`, `response.output_item.added`/`.done`,
// `response.output_text.delta`, `response.reasoning_summary_text.delta` (and
// `response.reasoning_text.delta` of open reasoning models),
// `response.refusal.delta`, `response.function_call_arguments.delta`/`.done`,
// then one of `response.completed`, `response.incomplete` or `response.failed`;
// an `error` event is a failure. A whole `response` object (a server that
// answered `stream: true` with JSON) is decoded too.

import type { Part } from '@sluice/core';
import { API_KEY_ENV, type ErrorBodyFields } from '../../http/errors.ts';
import {
  count,
  type EventMetadata,
  field,
  type ModelEvent,
  parseArgs,
  type StreamDecoder,
  type Usage,
  usageOf,
} from '../events.ts';
import {
  base64Of,
  resultText,
  type ToolSpec,
  toConversation,
  toolParameters,
  UnsupportedOptionError,
  UnsupportedPartError,
} from '../messages.ts';
import { joinURL, type ModelOptions } from '../options.ts';
import { apiKeyOf, jsonModelCall, type ModelCall } from '../run.ts';
import { OPENAI_BASE_URL } from './openai.ts';

type Item = Record<string, unknown>;

function userContent(parts: Part[]): unknown {
  if (parts.every((part) => part.text !== undefined)) return parts.map((part) => part.text).join('');
  return parts.map((part) => {
    if (part.text !== undefined) return { type: 'input_text', text: part.text };
    if (part.data && part.mimetype.startsWith('image/'))
      return { type: 'input_image', image_url: `data:${part.mimetype};base64,${base64Of(part)}` };
    throw new UnsupportedPartError('openai', part);
  });
}

function toolOutput(part: Part): Item {
  if (part.toolResult) {
    return { type: 'function_call_output', call_id: part.toolResult.id, output: resultText(part.toolResult.result) };
  }
  const id = part.metadata.toolCallId;
  if (typeof id === 'string' && id !== '' && part.text !== undefined) {
    return { type: 'function_call_output', call_id: id, output: part.text };
  }
  throw new UnsupportedPartError('openai', part, {
    reason: `a part with role 'tool' (mimetype '${part.mimetype}') has no toolResult, so it names no function call to answer`,
    hint: "set toolResult: { id, name, result } on the part, with the id of the model's tool call (part.toolCall.id)",
  });
}

/**
 * The Responses `input` items for the input parts: user and assistant messages (`{ role, content }`),
 * the assistant's earlier calls as `function_call` items and tool results as `function_call_output`
 * items; the system prompt goes to `instructions`.
 */
export function responsesInput(parts: readonly Part[], system?: string): { instructions?: string; input: Item[] } {
  const conversation = toConversation(parts, system);
  const input: Item[] = [];
  for (const turn of conversation.turns) {
    if (turn.role === 'user') {
      input.push({ role: 'user', content: userContent(turn.parts) });
    } else if (turn.role === 'assistant') {
      const text = turn.parts
        .filter((part) => !part.toolCall && part.text !== undefined)
        .map((part) => part.text)
        .join('');
      if (text !== '') input.push({ role: 'assistant', content: text });
      for (const part of turn.parts) {
        if (!part.toolCall) continue;
        input.push({
          type: 'function_call',
          call_id: part.toolCall.id,
          name: part.toolCall.name,
          arguments: JSON.stringify(part.toolCall.args ?? {}),
        });
      }
    } else {
      for (const part of turn.parts) input.push(toolOutput(part));
    }
  }
  return { ...(conversation.system !== undefined ? { instructions: conversation.system } : {}), input };
}

/** Responses tool definitions (flat: `{ type: 'function', name, description, parameters }`). */
export function responsesTools(tools: readonly ToolSpec[]): unknown[] {
  return tools.map((tool) => ({
    type: 'function',
    name: tool.name,
    ...(tool.description ? { description: tool.description } : {}),
    parameters: toolParameters(tool),
  }));
}

/** What to do instead of `stop` on the Responses API. */
export const STOP_HINT = "leave out 'stop', or use openai() (chat completions), which has stop sequences";

/**
 * The request body for `/responses` (streaming; `store: false`, so nothing is kept on the service).
 * `stop` has no Responses equivalent and is refused rather than silently ignored.
 */
export function responsesBody(parts: readonly Part[], options: ModelOptions): Record<string, unknown> {
  if (options.stop !== undefined) {
    throw new UnsupportedOptionError('openaiResponses', 'stop', 'the Responses API has no stop sequences', STOP_HINT);
  }
  const body: Record<string, unknown> = {
    model: options.model,
    ...responsesInput(parts, options.system),
    stream: true,
    store: false,
  };
  if (options.temperature !== undefined) body.temperature = options.temperature;
  if (options.maxTokens !== undefined) body.max_output_tokens = options.maxTokens;
  if (options.logprobs !== undefined && options.logprobs !== false) {
    body.include = ['message.output_text.logprobs'];
    body.top_logprobs = typeof options.logprobs === 'number' ? options.logprobs : 0;
  }
  if (options.tools && options.tools.length > 0) body.tools = responsesTools(options.tools);
  if (options.toolChoice !== undefined) {
    body.tool_choice =
      typeof options.toolChoice === 'string' ? options.toolChoice : { type: 'function', name: options.toolChoice.name };
  }
  return { ...body, ...options.extraBody };
}

/**
 * The usage of a response: `input_tokens` and `output_tokens` (their totals), with
 * `input_tokens_details.cached_tokens` and `output_tokens_details.reasoning_tokens` broken out.
 */
export function responsesUsage(raw: unknown): Usage | undefined {
  if (raw === null || typeof raw !== 'object') return undefined;
  const input = count(field(raw, 'input_tokens'));
  const output = count(field(raw, 'output_tokens'));
  if (input === undefined && output === undefined) return undefined;
  const writes = count(field(field(raw, 'input_tokens_details'), 'cache_write_tokens'));
  return usageOf({
    inputTokens: input ?? 0,
    outputTokens: output ?? 0,
    totalTokens: count(field(raw, 'total_tokens')) ?? (input ?? 0) + (output ?? 0),
    cachedInputTokens: count(field(field(raw, 'input_tokens_details'), 'cached_tokens')),
    cacheCreationInputTokens: writes ? writes : undefined,
    reasoningTokens: count(field(field(raw, 'output_tokens_details'), 'reasoning_tokens')),
  });
}

/** Output item types the service runs itself (web search, file search, code interpreter, ...). */
function isServerCall(type: unknown): type is string {
  return typeof type === 'string' && type !== 'function_call' && type.endsWith('_call');
}

function errorFields(error: unknown, fallback: string): ErrorBodyFields {
  const code = field(error, 'code');
  const message = field(error, 'message');
  const out: ErrorBodyFields = { message: typeof message === 'string' && message !== '' ? message : fallback };
  if (typeof code === 'string' && code !== '') {
    // The Responses API says what happened in `code` ('rate_limit_exceeded', 'server_error', ...).
    out.type = code;
    out.providerCode = code;
  }
  return out;
}

interface PendingCall {
  id: string;
  name: string;
  args: string;
  itemId?: string;
}

/**
 * A decoder for Responses stream events (the SSE data, parsed; the event name is also in its `type`).
 * Text, reasoning summaries and refusals stream as they arrive; a function call comes out whole when
 * its item is done; server-run calls (`web_search_call`, ...) come out as 'serverTool' events;
 * output items of an unknown type as 'unknown' events. A body ending before `response.completed`,
 * `response.incomplete` or `response.failed` ends with a truncation error event.
 */
export function responsesDecoder(): StreamDecoder {
  const calls = new Map<number, PendingCall>();
  let ended = false;
  let refused = false;
  let called = false;
  let model: string | undefined;
  let responseId: string | undefined;

  const identify = (response: unknown) => {
    const id = field(response, 'id');
    if (typeof id === 'string' && id !== '') responseId = id;
    const name = field(response, 'model');
    if (typeof name === 'string' && name !== '') model = name;
  };

  const callEvent = (call: PendingCall): ModelEvent => {
    called = true;
    return {
      type: 'toolCall',
      id: call.id,
      name: call.name,
      args: parseArgs(call.args),
      ...(call.itemId ? { metadata: { itemId: call.itemId } } : {}),
    };
  };

  const flushCalls = (): ModelEvent[] => {
    const out = [...calls].sort(([a], [b]) => a - b).map(([, call]) => callEvent(call));
    calls.clear();
    return out;
  };

  /** The events of one finished output item (non-streamed content, or an item's done event). */
  const itemEvents = (item: unknown, whole: boolean): ModelEvent[] => {
    const type = field(item, 'type');
    if (type === 'function_call') {
      const args = field(item, 'arguments');
      const itemId = field(item, 'id');
      return [
        callEvent({
          id: String(field(item, 'call_id') ?? itemId ?? `call_${calls.size}`),
          name: String(field(item, 'name') ?? ''),
          args: typeof args === 'string' ? args : '',
          ...(typeof itemId === 'string' ? { itemId } : {}),
        }),
      ];
    }
    if (isServerCall(type)) {
      const id = field(item, 'id');
      return [{ type: 'serverTool', kind: 'call', id: typeof id === 'string' ? id : '', name: type, value: item }];
    }
    if (!whole) return [];
    const out: ModelEvent[] = [];
    if (type === 'message') {
      const content = field(item, 'content');
      for (const piece of Array.isArray(content) ? content : []) {
        const kind = field(piece, 'type');
        const text = field(piece, kind === 'refusal' ? 'refusal' : 'text');
        if (kind === 'output_text' && typeof text === 'string') {
          const logprobs = field(piece, 'logprobs');
          const metadata: EventMetadata | undefined =
            Array.isArray(logprobs) && logprobs.length > 0 ? { logprobs } : undefined;
          if (text !== '') out.push({ type: 'text', text, ...(metadata ? { metadata } : {}) });
        } else if (kind === 'refusal' && typeof text === 'string') {
          refused = true;
          out.push({ type: 'refusal', text });
        } else {
          out.push({ type: 'unknown', value: piece, metadata: { chunkType: kind ?? null } });
        }
      }
    } else if (type === 'reasoning') {
      const summary = field(item, 'summary');
      for (const piece of Array.isArray(summary) ? summary : []) {
        const text = field(piece, 'text');
        if (typeof text === 'string' && text !== '') out.push({ type: 'reasoning', text });
      }
    } else {
      out.push({ type: 'unknown', value: item, metadata: { chunkType: type ?? null } });
    }
    return out;
  };

  const finish = (response: unknown, status: 'completed' | 'incomplete'): ModelEvent => {
    ended = true;
    identify(response);
    let finishReason: string;
    let raw: string;
    if (status === 'incomplete') {
      raw = String(field(field(response, 'incomplete_details'), 'reason') ?? 'incomplete');
      finishReason = raw === 'max_output_tokens' ? 'length' : raw === 'content_filter' ? 'content_filter' : raw;
    } else {
      raw = 'completed';
      finishReason = refused ? 'refusal' : called ? 'tool_calls' : 'stop';
    }
    return {
      type: 'finish',
      finishReason,
      rawFinishReason: raw,
      usage: responsesUsage(field(response, 'usage')),
      ...(model !== undefined ? { model } : {}),
      ...(responseId !== undefined ? { responseId } : {}),
    };
  };

  return {
    push(value, event) {
      const type = field(value, 'type') ?? event;
      if (type === undefined && field(value, 'object') === 'response') {
        // A whole response: every output item, then the end it reached.
        identify(value);
        if (field(value, 'status') === 'failed' || (field(value, 'error') ?? null) !== null) {
          ended = true;
          return [{ type: 'error', fields: errorFields(field(value, 'error'), 'the response failed') }];
        }
        const output = field(value, 'output');
        const out = (Array.isArray(output) ? output : []).flatMap((item) => itemEvents(item, true));
        out.push(finish(value, field(value, 'status') === 'incomplete' ? 'incomplete' : 'completed'));
        return out;
      }
      if (type === undefined && (field(value, 'error') ?? null) !== null) {
        return [{ type: 'error', fields: errorFields(field(value, 'error'), 'error body in the stream') }];
      }
      switch (type) {
        case 'response.created':
        case 'response.in_progress':
          identify(field(value, 'response'));
          return [];
        case 'response.output_text.delta': {
          const delta = field(value, 'delta');
          if (typeof delta !== 'string' || delta === '') return [];
          const logprobs = field(value, 'logprobs');
          const metadata = Array.isArray(logprobs) && logprobs.length > 0 ? { logprobs } : undefined;
          return [{ type: 'text', text: delta, ...(metadata ? { metadata } : {}) }];
        }
        case 'response.reasoning_summary_text.delta':
        case 'response.reasoning_text.delta': {
          const delta = field(value, 'delta');
          return typeof delta === 'string' && delta !== '' ? [{ type: 'reasoning', text: delta }] : [];
        }
        case 'response.refusal.delta': {
          const delta = field(value, 'delta');
          if (typeof delta !== 'string' || delta === '') return [];
          refused = true;
          return [{ type: 'refusal', text: delta }];
        }
        case 'response.output_item.added': {
          const item = field(value, 'item');
          if (field(item, 'type') !== 'function_call') return [];
          const index = Number(field(value, 'output_index') ?? calls.size);
          const args = field(item, 'arguments');
          const itemId = field(item, 'id');
          calls.set(index, {
            id: String(field(item, 'call_id') ?? itemId ?? `call_${index}`),
            name: String(field(item, 'name') ?? ''),
            args: typeof args === 'string' ? args : '',
            ...(typeof itemId === 'string' ? { itemId } : {}),
          });
          return [];
        }
        case 'response.function_call_arguments.delta': {
          const call = calls.get(Number(field(value, 'output_index')));
          const delta = field(value, 'delta');
          if (call && typeof delta === 'string') call.args += delta;
          return [];
        }
        case 'response.function_call_arguments.done': {
          const call = calls.get(Number(field(value, 'output_index')));
          const args = field(value, 'arguments');
          if (call && typeof args === 'string') call.args = args;
          const name = field(value, 'name');
          if (call && typeof name === 'string' && name !== '') call.name = name;
          return [];
        }
        case 'response.output_item.done': {
          const index = Number(field(value, 'output_index'));
          const item = field(value, 'item');
          const pending = calls.get(index);
          if (field(item, 'type') === 'function_call' && pending) {
            calls.delete(index);
            const args = field(item, 'arguments');
            if (typeof args === 'string' && args !== '') pending.args = args;
            return [callEvent(pending)];
          }
          return itemEvents(item, false);
        }
        case 'response.completed':
          return [...flushCalls(), finish(field(value, 'response'), 'completed')];
        case 'response.incomplete':
          return [...flushCalls(), finish(field(value, 'response'), 'incomplete')];
        case 'response.failed':
          ended = true;
          return [
            {
              type: 'error',
              fields: errorFields(field(field(value, 'response'), 'error'), 'the response failed (response.failed)'),
            },
          ];
        case 'error':
          return [{ type: 'error', fields: errorFields(value, 'error event in the stream') }];
        default:
          // Lifecycle events (content_part.added, output_text.done, ...) repeat what the deltas said.
          return [];
      }
    },
    end() {
      if (ended) return [];
      return [
        {
          type: 'error',
          truncated: true,
          fields: { message: 'the stream ended before response.completed (the connection was cut)' },
        },
      ];
    },
  };
}

/** The HTTP call for `parts`: POST `<baseURL>/responses`, bearer key, SSE. */
export function responsesCall(parts: readonly Part[], options: ModelOptions): ModelCall {
  const baseURL = options.baseURL ?? process.env.OPENAI_BASE_URL ?? OPENAI_BASE_URL;
  const apiKeyEnv = options.apiKeyEnv ?? API_KEY_ENV.openai;
  const apiKey = apiKeyOf(options, apiKeyEnv);
  return jsonModelCall(
    {
      provider: 'openai',
      framing: 'sse',
      url: joinURL(baseURL, 'responses'),
      body: responsesBody(parts, options),
      apiKey,
      apiKeyEnv,
      authHeaders: (key) => ({ authorization: `Bearer ${key}` }),
      createDecoder: responsesDecoder,
    },
    options,
  );
}
