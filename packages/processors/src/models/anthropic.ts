import type { Processor } from '@sluice/core';
import { modelProcessor } from './model.ts';
import type { ModelOptions } from './options.ts';
import { anthropicCall } from './wire/anthropic.ts';

/** Options of `anthropic`: the shared model options (`maxTokens` defaults to 4096, the API requires one). */
export type AnthropicOptions = ModelOptions;

/**
 * An Anthropic Messages API model: `baseURL` is the origin (default
 * https://api.anthropic.com; the processor appends `/v1/messages`), the key
 * defaults to ANTHROPIC_API_KEY. Streams one text part per delta, thinking on
 * substream 'reasoning', tool_use blocks as whole tool-call parts, then a
 * status part with `usage` and `finishReason`. Retries transient failures
 * (529 overloaded included) before the first token; stopping closes the socket.
 */
export function anthropic(options: AnthropicOptions): Processor {
  return modelProcessor('anthropic', options, anthropicCall);
}
