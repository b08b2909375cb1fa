import type { Processor } from '@sluice/core';
import { modelProcessor } from './model.ts';
import type { ModelOptions } from './options.ts';
import { geminiCall } from './wire/gemini.ts';

/** Options of `gemini`: the shared model options. */
export type GeminiOptions = ModelOptions;

/**
 * A Gemini model through streamGenerateContent SSE: `baseURL` is the origin
 * (default https://generativelanguage.googleapis.com; the processor appends
 * `/v1beta/models/<model>:streamGenerateContent?alt=sse`), the key defaults to
 * GEMINI_API_KEY (or GOOGLE_API_KEY) and travels in a header, never the URL.
 * Streams one text part per chunk, thoughts on substream 'reasoning',
 * function calls as parts, then a status part with `usage` and `finishReason`.
 * Retries transient failures before the first token; stopping closes the socket.
 */
export function gemini(options: GeminiOptions): Processor {
  return modelProcessor('gemini', options, geminiCall);
}
