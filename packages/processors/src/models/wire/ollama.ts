// Ollama's native /api/chat streaming: one JSON object per line with
// `message.content` / `message.thinking` deltas, whole `tool_calls` (arguments
// as objects), a final `done: true` object carrying `done_reason`,
// `prompt_eval_count` and `eval_count`, and `{ "error": "..." }` lines.

import type { Part } from '@sluice/core';
import { API_KEY_ENV } from '../../http/errors.ts';
import { count, field, type ModelEvent, type StreamDecoder } from '../events.ts';
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

/** The /api/chat `messages` for the input parts (images as base64 strings in `images`). */
export function ollamaMessages(parts: readonly Part[], system?: string): Message[] {
  const conversation = toConversation(parts, system);
  const messages: Message[] = [];
  if (conversation.system !== undefined) messages.push({ role: 'system', content: conversation.system });
  for (const turn of conversation.turns) {
    if (turn.role === 'tool') {
      for (const part of turn.parts) {
        messages.push({
          role: 'tool',
          content: part.toolResult ? resultText(part.toolResult.result) : (part.text ?? ''),
          ...(part.toolResult ? { tool_name: part.toolResult.name } : {}),
        });
      }
      continue;
    }
    let content = '';
    const images: string[] = [];
    const toolCalls: unknown[] = [];
    for (const part of turn.parts) {
      if (part.toolCall)
        toolCalls.push({ function: { name: part.toolCall.name, arguments: part.toolCall.args ?? {} } });
      else if (part.text !== undefined) content += part.text;
      else if (part.data && part.mimetype.startsWith('image/')) images.push(base64Of(part));
      else throw new UnsupportedPartError('ollama', part);
    }
    const message: Message = { role: turn.role, content };
    if (images.length > 0) message.images = images;
    if (toolCalls.length > 0) message.tool_calls = toolCalls;
    messages.push(message);
  }
  return messages;
}

/** Ollama tool definitions (OpenAI's shape). */
export function ollamaTools(tools: readonly ToolSpec[]): unknown[] {
  return tools.map((tool) => ({
    type: 'function',
    function: {
      name: tool.name,
      ...(tool.description ? { description: tool.description } : {}),
      parameters: toolParameters(tool),
    },
  }));
}

/** The request body for `/api/chat` (streaming). Sampling options go in `options`. */
export function ollamaBody(parts: readonly Part[], options: ModelOptions): Record<string, unknown> {
  const modelOptions: Record<string, unknown> = {};
  if (options.temperature !== undefined) modelOptions.temperature = options.temperature;
  if (options.maxTokens !== undefined) modelOptions.num_predict = options.maxTokens;
  const stop = stopList(options.stop);
  if (stop) modelOptions.stop = stop;
  const body: Record<string, unknown> = {
    model: options.model,
    messages: ollamaMessages(parts, options.system),
    stream: true,
  };
  if (Object.keys(modelOptions).length > 0) body.options = modelOptions;
  if (options.tools && options.tools.length > 0) body.tools = ollamaTools(options.tools);
  const extra = options.extraBody ?? {};
  const extraOptions = field(extra, 'options');
  return {
    ...body,
    ...extra,
    ...(extraOptions && typeof extraOptions === 'object' ? { options: { ...modelOptions, ...extraOptions } } : {}),
  };
}

/** A decoder for /api/chat NDJSON objects. */
export function ollamaDecoder(): StreamDecoder {
  let done = false;
  let toolCallCount = 0;
  return {
    push(value) {
      const error = field(value, 'error');
      if (error !== undefined && error !== null) {
        return [
          {
            type: 'error',
            fields: typeof error === 'string' ? { message: error } : { message: JSON.stringify(error) },
          },
        ];
      }
      const out: ModelEvent[] = [];
      const message = field(value, 'message');
      const thinking = field(message, 'thinking');
      if (typeof thinking === 'string' && thinking !== '') out.push({ type: 'reasoning', text: thinking });
      const content = field(message, 'content');
      if (typeof content === 'string' && content !== '') out.push({ type: 'text', text: content });
      const calls = field(message, 'tool_calls');
      if (Array.isArray(calls)) {
        for (const call of calls) {
          const fn = field(call, 'function');
          const id = field(call, 'id');
          const args = field(fn, 'arguments');
          out.push({
            type: 'toolCall',
            id: typeof id === 'string' && id !== '' ? id : `call_${toolCallCount}`,
            name: String(field(fn, 'name') ?? ''),
            args: typeof args === 'string' ? safeParse(args) : (args ?? {}),
          });
          toolCallCount++;
        }
      }
      if (field(value, 'done') === true) {
        done = true;
        const input = count(field(value, 'prompt_eval_count'));
        const output = count(field(value, 'eval_count'));
        const raw = field(value, 'done_reason');
        const rawReason = typeof raw === 'string' ? raw : undefined;
        out.push({
          type: 'finish',
          finishReason:
            toolCallCount > 0 && (rawReason === 'stop' || rawReason === undefined) ? 'tool_calls' : rawReason,
          rawFinishReason: rawReason,
          usage:
            input === undefined && output === undefined
              ? undefined
              : { inputTokens: input ?? 0, outputTokens: output ?? 0, totalTokens: (input ?? 0) + (output ?? 0) },
        });
      }
      return out;
    },
    end() {
      if (done) return [];
      return [
        { type: 'error', truncated: true, fields: { message: 'the stream ended before the final "done" object' } },
      ];
    },
  };
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Ollama's port, used when `OLLAMA_HOST` names neither a scheme nor a port. */
export const OLLAMA_DEFAULT_PORT = 11434;

/** Default Ollama base URL (an origin; the processor appends `/api/chat`). */
export const OLLAMA_BASE_URL = `http://127.0.0.1:${OLLAMA_DEFAULT_PORT}`;

/**
 * `OLLAMA_HOST` as a base URL, read the way Ollama's own clients (CLI, ollama-python, ollama-js) read
 * it: without a scheme, http and port 11434 (`127.0.0.1` -> `http://127.0.0.1:11434`, `host:8080` ->
 * `http://host:8080`, `:8080` -> `http://127.0.0.1:8080`); with a scheme, that scheme's port unless one
 * is given (`https://h` -> `https://h`). A path is kept, without its trailing slash; '' gives the
 * default. Pure; throws TypeError for anything that is not a host, host:port or http(s) URL.
 */
export function ollamaHostURL(host: string): string {
  let value = host.trim();
  if (value === '') return OLLAMA_BASE_URL;
  if (value.startsWith(':')) value = `127.0.0.1${value}`;
  const explicitScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(value);
  const withScheme = explicitScheme ? value : `http://${value}`;
  let url: URL | undefined;
  try {
    url = new URL(withScheme);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '') {
    throw new TypeError(
      `OLLAMA_HOST ${JSON.stringify(host)} is not a host, host:port or http(s) URL; e.g. 127.0.0.1, 127.0.0.1:11434 or https://ollama.example.com`,
    );
  }
  // `new URL` drops a port equal to the scheme's default, so look at what was written.
  const authority = withScheme.replace(/^[^:]+:\/\//, '').split(/[/?#]/)[0] ?? '';
  if (!explicitScheme && !/:\d+$/.test(authority)) url.port = String(OLLAMA_DEFAULT_PORT);
  return url.origin + url.pathname.replace(/\/+$/, '');
}

/** The HTTP call for `parts`: POST `<baseURL>/api/chat`, NDJSON (a key, if given, as a bearer token for proxies). */
export function ollamaCall(parts: readonly Part[], options: ModelOptions): ModelCall {
  const host = process.env.OLLAMA_HOST;
  const baseURL = options.baseURL ?? (host ? ollamaHostURL(host) : OLLAMA_BASE_URL);
  // Ollama needs no key; one (for a proxy in front of it) comes from `apiKey` or, if named, `apiKeyEnv`.
  const apiKeyEnv = options.apiKeyEnv ?? API_KEY_ENV.ollama;
  const apiKey = apiKeyOf(options, apiKeyEnv);
  return jsonModelCall(
    {
      provider: 'ollama',
      framing: 'ndjson',
      url: joinURL(baseURL, 'api/chat'),
      body: ollamaBody(parts, options),
      apiKey,
      apiKeyEnv,
      authHeaders: (key) => ({ authorization: `Bearer ${key}` }),
      createDecoder: ollamaDecoder,
    },
    options,
  );
}
