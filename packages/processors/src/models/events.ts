// The provider-neutral events the wire decoders produce. Each decoder is a
// pure state machine: provider JSON in, `ModelEvent`s out, so every wire
// detail is tested without a network.

import type { ErrorBodyFields } from '../http/errors.ts';

/** Token counts of one model call. */
export interface Usage {
  inputTokens: number;
  outputTokens: number;
  totalTokens?: number;
}

/** Normalized finish reasons (OpenAI's vocabulary); the provider's own value is kept as `rawFinishReason`. */
export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter' | 'error' | (string & {});

/** What a decoder found in one wire message. */
export type ModelEvent =
  | { type: 'text'; text: string }
  | { type: 'reasoning'; text: string }
  /** Bytes the model produced (an image), whole. */
  | { type: 'data'; data: Uint8Array; mimetype: string }
  | { type: 'toolCall'; id: string; name: string; args: unknown }
  | {
      type: 'finish';
      finishReason: FinishReason | undefined;
      rawFinishReason: string | undefined;
      usage: Usage | undefined;
    }
  | { type: 'error'; fields: ErrorBodyFields; truncated?: boolean };

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
