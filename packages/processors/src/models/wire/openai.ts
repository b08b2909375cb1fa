// OpenAI chat completions streaming, as served by OpenAI, vLLM, LM Studio,
// OpenRouter, llama.cpp server and Ollama's /v1. Wire details handled: the
// role-only first chunk, `reasoning_content` (vLLM, DeepSeek) and `reasoning`
// (OpenRouter, Ollama) deltas, tool-call fragments keyed by `index`, the usage
// chunk with empty `choices`, `[DONE]`, OpenRouter's keep-alive comments (the
// SSE decoder drops them) and `finish_reason: 'error'`, vLLM's
// `{ object: 'error', code: 400 }` and LM Studio's `{ error: 'text' }`.

import type { Part } from '@sluice/core';
import { API_KEY_ENV, parseErrorBody } from '../../http/errors.ts';
import { count, field, type ModelEvent, parseArgs, type StreamDecoder, type Usage, usageOf } from '../events.ts';
import {
  base64Of,
  resultText,
  type ToolSpec,
  toConversation,
  toolParameters,
  UnsupportedPartError,
} from '../messages.ts';
import { joinURL, type ModelOptions, stopList } from '../options.ts';
import { apiKeyOf, jsonModelCall, type ModelCall } from '../run.ts';

type Message = Record<string, unknown>;

function userContent(parts: Part[]): unknown {
  if (parts.every((part) => part.text !== undefined)) return parts.map((part) => part.text).join('');
  return parts.map((part) => {
    if (part.text !== undefined) return { type: 'text', text: part.text };
    if (part.data && part.mimetype.startsWith('image/'))
      return { type: 'image_url', image_url: { url: `data:${part.mimetype};base64,${base64Of(part)}` } };
    throw new UnsupportedPartError('openai', part);
  });
}

/**
 * The `role: 'tool'` message answering one tool call. OpenAI refuses a tool message without the id of
 * the call it answers, so a 'tool' part needs `toolResult` (or a string `metadata.toolCallId`).
 */
function toolMessage(part: Part): Message {
  if (part.toolResult) {
    return { role: 'tool', tool_call_id: part.toolResult.id, content: resultText(part.toolResult.result) };
  }
  const id = part.metadata.toolCallId;
  if (typeof id === 'string' && id !== '' && part.text !== undefined) {
    return { role: 'tool', tool_call_id: id, content: part.text };
  }
  throw new UnsupportedPartError('openai', part, {
    reason: `a part with role 'tool' (mimetype '${part.mimetype}') has no toolResult, so it names no tool call to answer`,
    hint: "set toolResult: { id, name, result } on the part, with the id of the model's tool call (part.toolCall.id)",
  });
}

/** The chat completions `messages` for the input parts. */
export function openAIMessages(parts: readonly Part[], system?: string): Message[] {
  const conversation = toConversation(parts, system);
  const messages: Message[] = [];
  if (conversation.system !== undefined) messages.push({ role: 'system', content: conversation.system });
  for (const turn of conversation.turns) {
    if (turn.role === 'user') {
      messages.push({ role: 'user', content: userContent(turn.parts) });
    } else if (turn.role === 'assistant') {
      const text = turn.parts
        .filter((part) => !part.toolCall && part.text !== undefined)
        .map((part) => part.text)
        .join('');
      const calls = turn.parts.filter((part) => part.toolCall);
      const message: Message = { role: 'assistant', content: text === '' && calls.length > 0 ? null : text };
      if (calls.length > 0) {
        message.tool_calls = calls.map((part) => ({
          id: part.toolCall?.id,
          type: 'function',
          function: { name: part.toolCall?.name, arguments: JSON.stringify(part.toolCall?.args ?? {}) },
        }));
      }
      messages.push(message);
    } else {
      for (const part of turn.parts) messages.push(toolMessage(part));
    }
  }
  return messages;
}

/** OpenAI tool definitions. */
export function openAITools(tools: readonly ToolSpec[]): unknown[] {
  return tools.map((tool) => ({
    type: 'function',
    function: {
      name: tool.name,
      ...(tool.description ? { description: tool.description } : {}),
      parameters: toolParameters(tool),
    },
  }));
}

/** The request body for `/chat/completions` (streaming, with usage). */
export function openAIBody(
  parts: readonly Part[],
  options: ModelOptions & { maxTokensField?: 'max_tokens' | 'max_completion_tokens' },
): Record<string, unknown> {
  const body: Record<string, unknown> = {
    model: options.model,
    messages: openAIMessages(parts, options.system),
    stream: true,
    stream_options: { include_usage: true },
  };
  if (options.temperature !== undefined) body.temperature = options.temperature;
  if (options.maxTokens !== undefined) body[options.maxTokensField ?? 'max_tokens'] = options.maxTokens;
  const stop = stopList(options.stop);
  if (stop) body.stop = stop;
  if (options.logprobs !== undefined && options.logprobs !== false) {
    body.logprobs = true;
    if (typeof options.logprobs === 'number') body.top_logprobs = options.logprobs;
  }
  if (options.tools && options.tools.length > 0) body.tools = openAITools(options.tools);
  if (options.toolChoice !== undefined) {
    body.tool_choice =
      typeof options.toolChoice === 'string'
        ? options.toolChoice
        : { type: 'function', function: { name: options.toolChoice.name } };
  }
  return { ...body, ...options.extraBody };
}

const finishReasons: Record<string, string> = {
  stop: 'stop',
  length: 'length',
  tool_calls: 'tool_calls',
  function_call: 'tool_calls',
  content_filter: 'content_filter',
  error: 'error',
  eos: 'stop',
};

interface PendingCall {
  id: string;
  name: string;
  args: string;
}

/**
 * The usage of a chat completion: `prompt_tokens` and `completion_tokens` (their totals), with the
 * cached input (`prompt_tokens_details.cached_tokens`, DeepSeek's `prompt_cache_hit_tokens`) and the
 * reasoning output (`completion_tokens_details.reasoning_tokens`) broken out.
 */
export function openAIUsage(raw: unknown): Usage | undefined {
  if (raw === null || typeof raw !== 'object') return undefined;
  const input = count(field(raw, 'prompt_tokens'));
  const output = count(field(raw, 'completion_tokens'));
  if (input === undefined && output === undefined) return undefined;
  const cached =
    count(field(field(raw, 'prompt_tokens_details'), 'cached_tokens')) ?? count(field(raw, 'prompt_cache_hit_tokens'));
  const reasoning = count(field(field(raw, 'completion_tokens_details'), 'reasoning_tokens'));
  return usageOf({
    inputTokens: input ?? 0,
    outputTokens: output ?? 0,
    totalTokens: count(field(raw, 'total_tokens')) ?? (input ?? 0) + (output ?? 0),
    cachedInputTokens: cached,
    reasoningTokens: reasoning,
  });
}

/**
 * The events of one `delta.content` (or `message.content`): a string is text; an array (Mistral's
 * reasoning models) holds typed chunks: `text` chunks are text, `thinking` chunks (themselves an array
 * of text chunks) are reasoning, and any other type is kept as an 'unknown' event, never dropped.
 */
function contentEvents(content: unknown, metadata: Record<string, unknown> | undefined): ModelEvent[] {
  if (typeof content === 'string') {
    return content === '' ? [] : [{ type: 'text', text: content, ...(metadata ? { metadata } : {}) }];
  }
  if (!Array.isArray(content)) return [];
  const out: ModelEvent[] = [];
  for (const chunk of content) {
    const type = field(chunk, 'type');
    if (typeof chunk === 'string') {
      if (chunk !== '') out.push({ type: 'text', text: chunk });
    } else if (type === 'text') {
      const text = field(chunk, 'text');
      if (typeof text === 'string' && text !== '') out.push({ type: 'text', text });
    } else if (type === 'thinking') {
      const thinking = field(chunk, 'thinking');
      const pieces = typeof thinking === 'string' ? [thinking] : Array.isArray(thinking) ? thinking : [];
      for (const piece of pieces) {
        const text =
          typeof piece === 'string' ? piece : field(piece, 'type') === 'text' ? field(piece, 'text') : undefined;
        if (typeof text === 'string') {
          if (text !== '') out.push({ type: 'reasoning', text });
        } else {
          out.push({ type: 'unknown', value: piece, metadata: { chunkType: field(piece, 'type') ?? null } });
        }
      }
    } else {
      out.push({ type: 'unknown', value: chunk, metadata: { chunkType: type ?? null } });
    }
  }
  if (metadata) {
    const first = out.find((event) => event.type === 'text');
    if (first && first.type === 'text') first.metadata = metadata;
  }
  return out;
}

/**
 * A decoder for chat completion chunks (the SSE data of each event, parsed; `[DONE]` is not pushed but
 * reported to `end` as `terminated`). A body that ends with neither `[DONE]` nor a `finish_reason`
 * ends with a truncation error event. Only choice 0 is read. A refusal (`delta.refusal`) streams as
 * 'refusal' events and makes the finish reason 'refusal'.
 */
export function openAIDecoder(): StreamDecoder {
  const calls = new Map<number, PendingCall>();
  let finishReason: string | undefined;
  let usage: Usage | undefined;
  let lastIndex = -1;
  let refused = false;
  let model: string | undefined;
  let responseId: string | undefined;

  const flushCalls = (): ModelEvent[] => {
    const out: ModelEvent[] = [];
    for (const [, call] of [...calls].sort(([a], [b]) => a - b)) {
      out.push({ type: 'toolCall', id: call.id || `call_${out.length}`, name: call.name, args: parseArgs(call.args) });
    }
    calls.clear();
    return out;
  };

  return {
    push(value) {
      const out: ModelEvent[] = [];
      const error = field(value, 'error');
      if ((error !== undefined && error !== null) || field(value, 'object') === 'error') {
        return [{ type: 'error', fields: parseErrorBody(value) }];
      }
      const id = field(value, 'id');
      if (typeof id === 'string' && id !== '') responseId = id;
      const modelName = field(value, 'model');
      if (typeof modelName === 'string' && modelName !== '') model = modelName;
      const choices = field(value, 'choices');
      if (Array.isArray(choices)) {
        for (const choice of choices) {
          const index = field(choice, 'index');
          if (typeof index === 'number' && index !== 0) continue;
          const delta = field(choice, 'delta') ?? field(choice, 'message');
          const reasoning = field(delta, 'reasoning_content') ?? field(delta, 'reasoning');
          if (typeof reasoning === 'string' && reasoning !== '') out.push({ type: 'reasoning', text: reasoning });
          const logprobs = field(choice, 'logprobs');
          const tokenLogprobs = field(logprobs, 'content');
          const metadata =
            Array.isArray(tokenLogprobs) && tokenLogprobs.length > 0 ? { logprobs: tokenLogprobs } : undefined;
          out.push(...contentEvents(field(delta, 'content'), metadata));
          const refusal = field(delta, 'refusal');
          if (typeof refusal === 'string' && refusal !== '') {
            refused = true;
            out.push({ type: 'refusal', text: refusal });
          }
          const toolCalls = field(delta, 'tool_calls');
          if (Array.isArray(toolCalls)) {
            for (const fragment of toolCalls) {
              const fragmentIndex = field(fragment, 'index');
              const id = field(fragment, 'id');
              let key: number;
              if (typeof fragmentIndex === 'number') key = fragmentIndex;
              else if (typeof id === 'string' && id !== '' && ![...calls.values()].some((c) => c.id === id))
                key = lastIndex + 1;
              else key = Math.max(lastIndex, 0);
              lastIndex = Math.max(lastIndex, key);
              let call = calls.get(key);
              if (!call) {
                call = { id: '', name: '', args: '' };
                calls.set(key, call);
              }
              if (typeof id === 'string' && id !== '') call.id = id;
              const fn = field(fragment, 'function');
              const name = field(fn, 'name');
              if (typeof name === 'string' && name !== '') call.name = call.name === '' ? name : call.name;
              const args = field(fn, 'arguments');
              if (typeof args === 'string') call.args += args;
              else if (args !== undefined && args !== null) call.args += JSON.stringify(args);
            }
          }
          const reason = field(choice, 'finish_reason');
          if (typeof reason === 'string' && reason !== '') {
            finishReason = reason;
            if (reason === 'error') {
              return [
                ...out,
                { type: 'error', fields: { message: 'the model stream ended with finish_reason "error"' } },
              ];
            }
            out.push(...flushCalls());
          }
        }
      }
      usage = openAIUsage(field(value, 'usage')) ?? usage;
      return out;
    },
    end(ending) {
      // Some servers (llama.cpp, vLLM) omit [DONE] but always send a finish_reason; a body that
      // just stopped with neither is a cut connection, not an answer.
      if (!ending?.terminated && finishReason === undefined) {
        return [
          {
            type: 'error',
            truncated: true,
            fields: { message: 'the stream ended without a finish_reason or [DONE] (the connection was cut)' },
          },
        ];
      }
      const normalized = finishReason === undefined ? undefined : (finishReasons[finishReason] ?? finishReason);
      return [
        ...flushCalls(),
        {
          type: 'finish',
          finishReason: refused && (normalized === 'stop' || normalized === undefined) ? 'refusal' : normalized,
          rawFinishReason: finishReason,
          usage,
          ...(model !== undefined ? { model } : {}),
          ...(responseId !== undefined ? { responseId } : {}),
        },
      ];
    },
  };
}

/** Default OpenAI base URL (includes `/v1`, as in the official SDK). */
export const OPENAI_BASE_URL = 'https://api.openai.com/v1';

/** The HTTP call for `parts`: POST `<baseURL>/chat/completions`, bearer key, SSE. */
export function openAICall(parts: readonly Part[], options: ModelOptions): ModelCall {
  const baseURL = options.baseURL ?? process.env.OPENAI_BASE_URL ?? OPENAI_BASE_URL;
  const apiKeyEnv = options.apiKeyEnv ?? API_KEY_ENV.openai;
  const apiKey = apiKeyOf(options, apiKeyEnv);
  const official = /^https:\/\/api\.openai\.com(\/|$)/.test(baseURL);
  const body = openAIBody(parts, { ...options, maxTokensField: official ? 'max_completion_tokens' : 'max_tokens' });
  return jsonModelCall(
    {
      provider: 'openai',
      framing: 'sse',
      url: joinURL(baseURL, 'chat/completions'),
      body,
      apiKey,
      apiKeyEnv,
      authHeaders: (key) => ({ authorization: `Bearer ${key}` }),
      createDecoder: openAIDecoder,
    },
    options,
  );
}
