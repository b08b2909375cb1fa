// Anthropic Messages API streaming: `message_start` (input usage),
// `content_block_start/delta/stop` with `text_delta`, `thinking_delta`,
// `input_json_delta` (tool input JSON in fragments, parsed at block stop) and
// `signature_delta`, `message_delta` (stop reason and cumulative
// `output_tokens`), `message_stop`, `ping`, and `error` events.

import type { Part } from '@sluice/core';
import { API_KEY_ENV, parseErrorBody } from '../../http/errors.ts';
import { count, field, type ModelEvent, parseArgs, type StreamDecoder, type Usage } from '../events.ts';
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

type Block = Record<string, unknown>;

function contentBlock(part: Part): Block {
  if (part.text !== undefined) return { type: 'text', text: part.text };
  if (part.data && part.mimetype.startsWith('image/'))
    return { type: 'image', source: { type: 'base64', media_type: part.mimetype, data: base64Of(part) } };
  if (part.data && part.mimetype === 'application/pdf')
    return { type: 'document', source: { type: 'base64', media_type: part.mimetype, data: base64Of(part) } };
  throw new UnsupportedPartError('anthropic', part);
}

/** The Messages API `system` and `messages` for the input parts (tool results travel in user messages). */
export function anthropicMessages(
  parts: readonly Part[],
  system?: string,
): { system: string | undefined; messages: { role: 'user' | 'assistant'; content: Block[] }[] } {
  const conversation = toConversation(parts, system);
  const messages: { role: 'user' | 'assistant'; content: Block[] }[] = [];
  for (const turn of conversation.turns) {
    const role = turn.role === 'assistant' ? 'assistant' : 'user';
    const content: Block[] = turn.parts.map((part) => {
      if (part.toolCall)
        return { type: 'tool_use', id: part.toolCall.id, name: part.toolCall.name, input: part.toolCall.args ?? {} };
      if (part.toolResult) {
        return {
          type: 'tool_result',
          tool_use_id: part.toolResult.id,
          content: resultText(part.toolResult.result),
          ...(part.toolResult.isError ? { is_error: true } : {}),
        };
      }
      return contentBlock(part);
    });
    const last = messages.at(-1);
    if (last && last.role === role) last.content.push(...content);
    else messages.push({ role, content });
  }
  // The API rejects a final assistant turn (a prefill) that ends with whitespace.
  const last = messages.at(-1);
  const lastBlock = last?.content.at(-1);
  if (last?.role === 'assistant' && lastBlock?.type === 'text' && typeof lastBlock.text === 'string') {
    lastBlock.text = lastBlock.text.trimEnd();
  }
  return { system: conversation.system, messages };
}

/** Anthropic tool definitions. */
export function anthropicTools(tools: readonly ToolSpec[]): unknown[] {
  return tools.map((tool) => ({
    name: tool.name,
    ...(tool.description ? { description: tool.description } : {}),
    input_schema: toolParameters(tool),
  }));
}

/** Default `max_tokens` (the Messages API requires one). */
export const ANTHROPIC_DEFAULT_MAX_TOKENS = 4096;

/** The request body for `/v1/messages` (streaming). */
export function anthropicBody(parts: readonly Part[], options: ModelOptions): Record<string, unknown> {
  const { system, messages } = anthropicMessages(parts, options.system);
  const body: Record<string, unknown> = {
    model: options.model,
    max_tokens: options.maxTokens ?? ANTHROPIC_DEFAULT_MAX_TOKENS,
    messages,
    stream: true,
  };
  if (system !== undefined) body.system = system;
  if (options.temperature !== undefined) body.temperature = options.temperature;
  const stop = stopList(options.stop);
  if (stop) body.stop_sequences = stop;
  if (options.tools && options.tools.length > 0) body.tools = anthropicTools(options.tools);
  if (options.toolChoice !== undefined) {
    body.tool_choice =
      typeof options.toolChoice === 'string'
        ? { type: options.toolChoice === 'required' ? 'any' : options.toolChoice }
        : { type: 'tool', name: options.toolChoice.name };
  }
  return { ...body, ...options.extraBody };
}

const finishReasons: Record<string, string> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  max_tokens: 'length',
  tool_use: 'tool_calls',
  refusal: 'content_filter',
  pause_turn: 'pause',
};

/** A decoder for Messages API stream events (the parsed SSE data). */
export function anthropicDecoder(): StreamDecoder {
  const tools = new Map<number, { id: string; name: string; json: string }>();
  let inputTokens: number | undefined;
  let outputTokens: number | undefined;
  let stopReason: string | undefined;
  let stopped = false;

  return {
    push(value) {
      switch (field(value, 'type')) {
        case 'message_start': {
          const usage = field(field(value, 'message'), 'usage');
          const input = count(field(usage, 'input_tokens'));
          if (input !== undefined) {
            inputTokens =
              input +
              (count(field(usage, 'cache_creation_input_tokens')) ?? 0) +
              (count(field(usage, 'cache_read_input_tokens')) ?? 0);
          }
          outputTokens = count(field(usage, 'output_tokens')) ?? outputTokens;
          return [];
        }
        case 'content_block_start': {
          const index = field(value, 'index') as number;
          const block = field(value, 'content_block');
          const type = field(block, 'type');
          if (type === 'tool_use' || type === 'server_tool_use') {
            const input = field(block, 'input');
            const initial =
              input && typeof input === 'object' && Object.keys(input).length > 0 ? JSON.stringify(input) : '';
            tools.set(index, {
              id: String(field(block, 'id') ?? ''),
              name: String(field(block, 'name') ?? ''),
              json: initial,
            });
            return [];
          }
          const text =
            type === 'text' ? field(block, 'text') : type === 'thinking' ? field(block, 'thinking') : undefined;
          if (typeof text === 'string' && text !== '') return [{ type: type === 'text' ? 'text' : 'reasoning', text }];
          return [];
        }
        case 'content_block_delta': {
          const delta = field(value, 'delta');
          switch (field(delta, 'type')) {
            case 'text_delta': {
              const text = field(delta, 'text');
              return typeof text === 'string' && text !== '' ? [{ type: 'text', text }] : [];
            }
            case 'thinking_delta': {
              const text = field(delta, 'thinking');
              return typeof text === 'string' && text !== '' ? [{ type: 'reasoning', text }] : [];
            }
            case 'input_json_delta': {
              const tool = tools.get(field(value, 'index') as number);
              const partial = field(delta, 'partial_json');
              if (tool && typeof partial === 'string') tool.json += partial;
              return [];
            }
            default:
              return [];
          }
        }
        case 'content_block_stop': {
          const index = field(value, 'index') as number;
          const tool = tools.get(index);
          if (!tool) return [];
          tools.delete(index);
          return [{ type: 'toolCall', id: tool.id, name: tool.name, args: parseArgs(tool.json) }];
        }
        case 'message_delta': {
          const reason = field(field(value, 'delta'), 'stop_reason');
          if (typeof reason === 'string') stopReason = reason;
          const usage = field(value, 'usage');
          // output_tokens in message_delta is cumulative: replace, never add.
          outputTokens = count(field(usage, 'output_tokens')) ?? outputTokens;
          inputTokens = count(field(usage, 'input_tokens')) ?? inputTokens;
          return [];
        }
        case 'message_stop':
          stopped = true;
          return [];
        case 'message': {
          // A whole (non-streamed) message, from a proxy that ignored stream: true.
          const out: ModelEvent[] = [];
          const content = field(value, 'content');
          for (const block of Array.isArray(content) ? content : []) {
            const type = field(block, 'type');
            const text = field(block, type === 'thinking' ? 'thinking' : 'text');
            if ((type === 'text' || type === 'thinking') && typeof text === 'string' && text !== '') {
              out.push({ type: type === 'text' ? 'text' : 'reasoning', text });
            } else if (type === 'tool_use') {
              out.push({
                type: 'toolCall',
                id: String(field(block, 'id') ?? ''),
                name: String(field(block, 'name') ?? ''),
                args: field(block, 'input') ?? {},
              });
            }
          }
          const reason = field(value, 'stop_reason');
          if (typeof reason === 'string') stopReason = reason;
          const usage = field(value, 'usage');
          inputTokens = count(field(usage, 'input_tokens')) ?? inputTokens;
          outputTokens = count(field(usage, 'output_tokens')) ?? outputTokens;
          stopped = true;
          return out;
        }
        case 'error':
          return [{ type: 'error', fields: parseErrorBody(value) }];
        default:
          return [];
      }
    },
    end() {
      if (!stopped) {
        return [
          {
            type: 'error',
            truncated: true,
            fields: { message: 'the stream ended before message_stop (the connection was cut)' },
          },
        ];
      }
      const usage: Usage | undefined =
        inputTokens === undefined && outputTokens === undefined
          ? undefined
          : {
              inputTokens: inputTokens ?? 0,
              outputTokens: outputTokens ?? 0,
              totalTokens: (inputTokens ?? 0) + (outputTokens ?? 0),
            };
      const events: ModelEvent[] = [
        {
          type: 'finish',
          finishReason: stopReason === undefined ? undefined : (finishReasons[stopReason] ?? stopReason),
          rawFinishReason: stopReason,
          usage,
        },
      ];
      return events;
    },
  };
}

/** Default Anthropic base URL (an origin; the processor appends `/v1/messages`). */
export const ANTHROPIC_BASE_URL = 'https://api.anthropic.com';

/** The Messages API version header sent with every request. */
export const ANTHROPIC_VERSION = '2023-06-01';

/** The HTTP call for `parts`: POST `<baseURL>/v1/messages`, `x-api-key`, SSE. */
export function anthropicCall(parts: readonly Part[], options: ModelOptions): ModelCall {
  const baseURL = options.baseURL ?? process.env.ANTHROPIC_BASE_URL ?? ANTHROPIC_BASE_URL;
  const apiKeyEnv = options.apiKeyEnv ?? API_KEY_ENV.anthropic;
  const apiKey = apiKeyOf(options, apiKeyEnv);
  return jsonModelCall(
    {
      provider: 'anthropic',
      framing: 'sse',
      url: joinURL(baseURL, 'v1/messages'),
      body: anthropicBody(parts, options),
      apiKey,
      apiKeyEnv,
      authHeaders: (key) => ({ 'x-api-key': key }),
      headers: { 'anthropic-version': ANTHROPIC_VERSION },
      createDecoder: anthropicDecoder,
    },
    options,
  );
}
