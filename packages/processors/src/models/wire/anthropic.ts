// Anthropic Messages API streaming: `message_start` (input usage),
// `content_block_start/delta/stop` with `text_delta`, `thinking_delta`,
// `input_json_delta` (tool input JSON in fragments, parsed at block stop) and
// `signature_delta`, `message_delta` (stop reason and cumulative
// `output_tokens`), `message_stop`, `ping`, and `error` events.

import type { Part } from '@sluice/core';
import { API_KEY_ENV, parseErrorBody } from '../../http/errors.ts';
import { count, field, type ModelEvent, parseArgs, type StreamDecoder, type Usage, usageOf } from '../events.ts';
import {
  base64Of,
  isReplayPart,
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
  const conversation = toConversation(parts, system, isReplayPart);
  const messages: { role: 'user' | 'assistant'; content: Block[] }[] = [];
  for (const turn of conversation.turns) {
    const role = turn.role === 'assistant' ? 'assistant' : 'user';
    const content: Block[] = turn.parts.map((part) => {
      const meta = part.metadata;
      if (part.substream === 'reasoning' && typeof meta.redactedThinking === 'string')
        return { type: 'redacted_thinking', data: meta.redactedThinking };
      if (part.substream === 'reasoning' && typeof meta.signature === 'string')
        return {
          type: 'thinking',
          thinking: typeof meta.thinking === 'string' ? meta.thinking : '',
          signature: meta.signature,
        };
      if (part.substream === 'server_tool') return { ...(meta.block as Block) };
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
  refusal: 'refusal',
  pause_turn: 'pause',
};

/** Block types the server runs itself: their calls and results are informational. */
function isServerCall(type: unknown): boolean {
  return type === 'server_tool_use' || type === 'mcp_tool_use';
}
function isServerResult(type: unknown): boolean {
  return typeof type === 'string' && type.endsWith('_tool_result') && type !== 'tool_result';
}

interface OpenBlock {
  block: Block;
  /** Tool input JSON, accumulated from input_json_delta. */
  json: string;
  thinking: string;
  signature: string;
  /** Citations seen since the last text delta of this block. */
  citations: unknown[];
}

/** The usage of a message from its (cumulative) usage object; cache reads and writes broken out. */
function anthropicUsage(state: {
  input?: number;
  output?: number;
  cacheRead?: number;
  cacheWrite?: number;
}): Usage | undefined {
  if (state.input === undefined && state.output === undefined) return undefined;
  const inputTokens = (state.input ?? 0) + (state.cacheRead ?? 0) + (state.cacheWrite ?? 0);
  const outputTokens = state.output ?? 0;
  return usageOf({
    inputTokens,
    outputTokens,
    totalTokens: inputTokens + outputTokens,
    cachedInputTokens: state.cacheRead,
    cacheCreationInputTokens: state.cacheWrite,
  });
}

/**
 * A decoder for Messages API stream events (the parsed SSE data). Text and thinking stream as they
 * arrive; at each block's stop: a thinking block gives a closing reasoning event carrying its
 * `signature` (redacted thinking its `data`), a `tool_use` block a tool call, a `server_tool_use` /
 * `mcp_tool_use` block and its `*_tool_result` server-tool events (never client calls), and a block of
 * an unknown type an 'unknown' event. `citations_delta` rides on the next text of its block.
 */
export function anthropicDecoder(): StreamDecoder {
  const blocks = new Map<number, OpenBlock>();
  const serverNames = new Map<string, string>();
  const tokens: { input?: number; output?: number; cacheRead?: number; cacheWrite?: number } = {};
  let stopReason: string | undefined;
  let stopped = false;
  let model: string | undefined;
  let responseId: string | undefined;

  const readUsage = (usage: unknown) => {
    tokens.input = count(field(usage, 'input_tokens')) ?? tokens.input;
    // output_tokens is cumulative: replace, never add.
    tokens.output = count(field(usage, 'output_tokens')) ?? tokens.output;
    tokens.cacheRead = count(field(usage, 'cache_read_input_tokens')) ?? tokens.cacheRead;
    tokens.cacheWrite = count(field(usage, 'cache_creation_input_tokens')) ?? tokens.cacheWrite;
  };

  /** The events of a finished block (streamed text and thinking were already emitted). */
  const closeBlock = (open: OpenBlock, streamed: boolean): ModelEvent[] => {
    const { block } = open;
    const type = field(block, 'type');
    switch (type) {
      case 'text': {
        const out: ModelEvent[] = [];
        const text = field(block, 'text');
        const citations = [...((field(block, 'citations') as unknown[] | null) ?? []), ...open.citations];
        if (!streamed && typeof text === 'string' && text !== '') {
          out.push({ type: 'text', text, ...(citations.length > 0 ? { metadata: { citations } } : {}) });
        } else if (citations.length > 0) {
          out.push({ type: 'text', text: '', metadata: { citations } });
        }
        return out;
      }
      case 'thinking': {
        const thinking = streamed ? open.thinking : String(field(block, 'thinking') ?? '');
        const signature = streamed
          ? open.signature || String(field(block, 'signature') ?? '')
          : String(field(block, 'signature') ?? '');
        const out: ModelEvent[] = [];
        if (!streamed && thinking !== '') out.push({ type: 'reasoning', text: thinking });
        out.push({ type: 'reasoning', text: '', metadata: { signature, thinking } });
        return out;
      }
      case 'redacted_thinking':
        return [{ type: 'reasoning', text: '', metadata: { redactedThinking: String(field(block, 'data') ?? '') } }];
      case 'tool_use': {
        const args = streamed ? parseArgs(open.json) : (field(block, 'input') ?? {});
        return [
          { type: 'toolCall', id: String(field(block, 'id') ?? ''), name: String(field(block, 'name') ?? ''), args },
        ];
      }
      default: {
        if (isServerCall(type)) {
          const id = String(field(block, 'id') ?? '');
          const name = String(field(block, 'name') ?? '');
          const input = streamed ? parseArgs(open.json) : (field(block, 'input') ?? {});
          serverNames.set(id, name);
          return [
            { type: 'serverTool', kind: 'call', id, name, value: input, metadata: { block: { ...block, input } } },
          ];
        }
        if (isServerResult(type)) {
          const id = String(field(block, 'tool_use_id') ?? '');
          return [
            {
              type: 'serverTool',
              kind: 'result',
              id,
              name: serverNames.get(id) ?? String(type),
              value: field(block, 'content') ?? null,
              metadata: { block },
            },
          ];
        }
        return [{ type: 'unknown', value: block, metadata: { blockType: type ?? null } }];
      }
    }
  };

  return {
    push(value) {
      switch (field(value, 'type')) {
        case 'message_start': {
          const message = field(value, 'message');
          const id = field(message, 'id');
          if (typeof id === 'string') responseId = id;
          const name = field(message, 'model');
          if (typeof name === 'string') model = name;
          readUsage(field(message, 'usage'));
          return [];
        }
        case 'content_block_start': {
          const index = field(value, 'index') as number;
          const block = (field(value, 'content_block') ?? {}) as Block;
          const input = field(block, 'input');
          const open: OpenBlock = {
            block,
            json: input && typeof input === 'object' && Object.keys(input).length > 0 ? JSON.stringify(input) : '',
            thinking: '',
            signature: '',
            citations: [],
          };
          blocks.set(index, open);
          const type = field(block, 'type');
          const text =
            type === 'text' ? field(block, 'text') : type === 'thinking' ? field(block, 'thinking') : undefined;
          if (typeof text === 'string' && text !== '') {
            if (type === 'thinking') open.thinking += text;
            return [{ type: type === 'text' ? 'text' : 'reasoning', text }];
          }
          return [];
        }
        case 'content_block_delta': {
          const open = blocks.get(field(value, 'index') as number);
          const delta = field(value, 'delta');
          switch (field(delta, 'type')) {
            case 'text_delta': {
              const text = field(delta, 'text');
              if (typeof text !== 'string' || text === '') return [];
              if (open && open.citations.length > 0) {
                const citations = open.citations.splice(0);
                return [{ type: 'text', text, metadata: { citations } }];
              }
              return [{ type: 'text', text }];
            }
            case 'thinking_delta': {
              const text = field(delta, 'thinking');
              if (typeof text !== 'string' || text === '') return [];
              if (open) open.thinking += text;
              return [{ type: 'reasoning', text }];
            }
            case 'signature_delta': {
              const signature = field(delta, 'signature');
              if (open && typeof signature === 'string') open.signature += signature;
              return [];
            }
            case 'citations_delta': {
              if (open) open.citations.push(field(delta, 'citation'));
              return [];
            }
            case 'input_json_delta': {
              const partial = field(delta, 'partial_json');
              if (open && typeof partial === 'string') open.json += partial;
              return [];
            }
            default:
              return [{ type: 'unknown', value: delta, metadata: { deltaType: field(delta, 'type') ?? null } }];
          }
        }
        case 'content_block_stop': {
          const index = field(value, 'index') as number;
          const open = blocks.get(index);
          if (!open) return [];
          blocks.delete(index);
          return closeBlock(open, true);
        }
        case 'message_delta': {
          const reason = field(field(value, 'delta'), 'stop_reason');
          if (typeof reason === 'string') stopReason = reason;
          readUsage(field(value, 'usage'));
          return [];
        }
        case 'message_stop':
          stopped = true;
          return [];
        case 'message': {
          // A whole (non-streamed) message, from a proxy that ignored stream: true.
          const out: ModelEvent[] = [];
          const id = field(value, 'id');
          if (typeof id === 'string') responseId = id;
          const name = field(value, 'model');
          if (typeof name === 'string') model = name;
          const content = field(value, 'content');
          for (const block of Array.isArray(content) ? content : []) {
            out.push(...closeBlock({ block, json: '', thinking: '', signature: '', citations: [] }, false));
          }
          const reason = field(value, 'stop_reason');
          if (typeof reason === 'string') stopReason = reason;
          readUsage(field(value, 'usage'));
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
      return [
        {
          type: 'finish',
          finishReason: stopReason === undefined ? undefined : (finishReasons[stopReason] ?? stopReason),
          rawFinishReason: stopReason,
          usage: anthropicUsage(tokens),
          ...(model !== undefined ? { model } : {}),
          ...(responseId !== undefined ? { responseId } : {}),
        },
      ];
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
