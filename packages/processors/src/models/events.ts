// The provider-neutral events the wire decoders produce. Each decoder is a
// pure state machine: provider JSON in, `ModelEvent`s out, so every wire
// detail is tested without a network.

import type { ErrorBodyFields } from '../http/errors.ts';

/**
 * Token counts of one model call. `inputTokens` counts every input token (cached ones, cache writes
 * and tool-use prompts included) and `outputTokens` every output token (reasoning included), so
 * `totalTokens` is `inputTokens + outputTokens`; the optional fields break those sums down and are
 * present only when the provider reported them.
 */
export interface Usage {
  inputTokens: number;
  outputTokens: number;
  totalTokens?: number;
  /** Input tokens read from the provider's prompt cache (part of `inputTokens`). */
  cachedInputTokens?: number;
  /** Input tokens written to the prompt cache (Anthropic `cache_creation_input_tokens`; part of `inputTokens`). */
  cacheCreationInputTokens?: number;
  /** Output tokens spent on reasoning (part of `outputTokens`). */
  reasoningTokens?: number;
  /** Prompt tokens of tool results the service ran itself (Gemini `toolUsePromptTokenCount`; part of `inputTokens`). */
  toolUsePromptTokens?: number;
}

/** Normalized finish reasons (OpenAI's vocabulary); the provider's own value is kept as `rawFinishReason`. */
export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter' | 'refusal' | 'error' | (string & {});

/** Extra fields a decoder attaches to a part (citations, logprobs, signatures, ...). */
export type EventMetadata = Record<string, unknown>;

/** What a decoder found in one wire message. */
export type ModelEvent =
  | { type: 'text'; text: string; metadata?: EventMetadata }
  | { type: 'reasoning'; text: string; metadata?: EventMetadata }
  /** Text the model refused with (OpenAI `delta.refusal`): substream 'refusal'. */
  | { type: 'refusal'; text: string }
  | { type: 'toolCall'; id: string; name: string; args: unknown; metadata?: EventMetadata }
  /**
   * A tool call the service already ran (Anthropic `server_tool_use`, Gemini built-in tools) or its
   * result: informational, never for a client tool loop to execute.
   */
  | {
      type: 'serverTool';
      kind: 'call' | 'result';
      id: string;
      name: string;
      /** The call's input, or the result's content. */
      value: unknown;
      metadata?: EventMetadata;
    }
  /** Inline binary output (Gemini `inlineData`). */
  | { type: 'data'; mimetype: string; data: Uint8Array; metadata?: EventMetadata }
  /** A content chunk of a type this decoder does not know: kept, as JSON, on substream 'unknown'. */
  | { type: 'unknown'; value: unknown; metadata?: EventMetadata }
  | {
      type: 'finish';
      finishReason: FinishReason | undefined;
      rawFinishReason: string | undefined;
      usage: Usage | undefined;
      /** The model name the service reported (it may differ from the one asked for). */
      model?: string;
      /** The service's id of this response (e.g. `chatcmpl-...`, `msg_...`). */
      responseId?: string;
    }
  /**
   * A failure: an error the service sent, a stream cut short (`truncated`: retryable like a dropped
   * connection), or a stream this decoder cannot make sense of (`unexpected`: not retried).
   */
  | { type: 'error'; fields: ErrorBodyFields; truncated?: boolean; unexpected?: boolean };

/** How a response body ended, as the framing saw it. */
export interface StreamEnding {
  /**
   * True when the framing itself marked the end (SSE `data: [DONE]`) or the body was one whole JSON
   * document; false when the body just stopped, which may be a cut connection.
   */
  terminated: boolean;
}

/**
 * A wire decoder: `push` one decoded message (SSE data JSON or NDJSON value), `end` when the body
 * ended (without `ending`, a decoder assumes the body just stopped).
 */
export interface StreamDecoder {
  push(value: unknown, event?: string): ModelEvent[];
  end(ending?: StreamEnding): ModelEvent[];
}

/** Parses accumulated tool-call argument text; empty means `{}`, invalid JSON stays the raw string. */
export function parseArgs(text: string): unknown {
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Reads a property of an unknown JSON value as a record (undefined when it is not an object). */
export function field(value: unknown, key: string): unknown {
  return value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined;
}

/** A non-negative integer token count, or undefined. */
export function count(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** A usage object without the undefined optional fields. */
export function usageOf(fields: Usage): Usage {
  const out: Usage = { inputTokens: fields.inputTokens, outputTokens: fields.outputTokens };
  if (fields.totalTokens !== undefined) out.totalTokens = fields.totalTokens;
  for (const key of [
    'cachedInputTokens',
    'cacheCreationInputTokens',
    'reasoningTokens',
    'toolUsePromptTokens',
  ] as const) {
    if (fields[key] !== undefined) out[key] = fields[key];
  }
  return out;
}
