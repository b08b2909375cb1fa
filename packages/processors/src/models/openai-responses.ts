import type { Processor } from '@sluice/core';
import { UnsupportedOptionError } from './messages.ts';
import { modelProcessor } from './model.ts';
import type { ModelOptions } from './options.ts';
import { responsesCall, STOP_HINT } from './wire/openai-responses.ts';

/** Options of `openaiResponses`: the shared model options, without `stop` (the Responses API has none). */
export type OpenAIResponsesOptions = Omit<ModelOptions, 'stop'>;

/**
 * An OpenAI Responses API model (`POST <baseURL>/responses`, `baseURL` including `/v1` as for
 * `openai`; key from OPENAI_API_KEY). Streams one text part per `response.output_text.delta`,
 * reasoning summaries on substream 'reasoning', refusals on 'refusal', each function call as one
 * part once its arguments are complete, server-run calls (web search, ...) on 'server_tool', then a
 * status part with `usage` and `finishReason`. `response.failed` and `error` events are typed
 * errors (retried when they come before any output); a stream cut before `response.completed`
 * fails with APIConnectionError. Stopping closes the connection at once. Requests are sent with
 * `store: false` (override with `extraBody`).
 */
export function openaiResponses(options: OpenAIResponsesOptions): Processor {
  if ((options as ModelOptions).stop !== undefined) {
    throw new UnsupportedOptionError('openaiResponses', 'stop', 'the Responses API has no stop sequences', STOP_HINT);
  }
  return modelProcessor('openai', { name: `openai-responses:${options?.model}`, ...options }, responsesCall, {
    api: 'responses',
  });
}
