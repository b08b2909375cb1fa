import type { Processor } from '@sluice/core';
import { modelProcessor } from './model.ts';
import type { ModelOptions } from './options.ts';
import { ollamaCall } from './wire/ollama.ts';

export { OLLAMA_DEFAULT_PORT, ollamaHostURL } from './wire/ollama.ts';

/** Options of `ollama`: the shared model options (`apiKey` is optional, sent as a bearer token for proxies). */
export type OllamaOptions = ModelOptions;

/**
 * An Ollama model through the native /api/chat NDJSON stream: `baseURL` is
 * the origin (default OLLAMA_HOST, read like Ollama's clients do: scheme and port
 * optional, see `ollamaHostURL`; else http://127.0.0.1:11434; the processor
 * appends `/api/chat`). Streams one text part per chunk, thinking on substream
 * 'reasoning', tool calls as parts, then a status part with `usage` and
 * `finishReason`. Retries transient failures before the first token;
 * stopping closes the connection at once.
 */
export function ollama(options: OllamaOptions): Processor {
  return modelProcessor('ollama', options, ollamaCall);
}
