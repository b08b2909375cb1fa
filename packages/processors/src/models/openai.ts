import type { Processor } from '@sluice/core';
import { modelProcessor } from './model.ts';
import type { ModelOptions } from './options.ts';
import { openAICall } from './wire/openai.ts';

/** Options of `openai`: the shared model options. */
export type OpenAIOptions = ModelOptions;

/**
 * An OpenAI-compatible chat completions model (OpenAI, vLLM, LM Studio,
 * OpenRouter, llama.cpp server, Ollama's /v1): `baseURL` includes `/v1`
 * (default https://api.openai.com/v1, or OPENAI_BASE_URL), the key defaults
 * to OPENAI_API_KEY (`apiKeyEnv` names another variable, e.g.
 * 'OPENROUTER_API_KEY', which a 401's hint then names). Streams one text part
 * per token, reasoning on substream 'reasoning', tool calls as whole parts,
 * then a status part with `usage` and `finishReason`; a stream cut before its
 * finish_reason or [DONE] fails with APIConnectionError. Retries transient
 * failures before the first token (2 by default); stopping closes the
 * connection at once.
 */
export function openai(options: OpenAIOptions): Processor {
  return modelProcessor('openai', options, openAICall);
}
