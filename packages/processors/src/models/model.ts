// The processor shell shared by the HTTP model processors: gather the input,
// build the provider call, run it, and turn each neutral event into a part
// the moment it arrives (one text part per token, no buffering).

import {
  dataPart,
  jsonPart,
  type Part,
  type Processor,
  part,
  processor,
  statusPart,
  TOOL_CALL_MIMETYPE,
  textPart,
} from '@sluice/core';
import { APIError } from '../http/errors.ts';
import { withConfig } from './config.ts';
import type { ModelEvent } from './events.ts';
import type { ModelOptions } from './options.ts';
import { type ModelCall, type RetryInfo, runModel } from './run.ts';
import { startModelTrace } from './trace.ts';

const noData = new Uint8Array(0);

/** The substream of server-run tool calls and results (never executed by a client tool loop). */
export const SERVER_TOOL_SUBSTREAM = 'server_tool';

/**
 * The part for one model event: text (role 'model'), reasoning (substream 'reasoning'), refusal text
 * (substream 'refusal'), a tool call, a server-run tool call or result (JSON on substream
 * 'server_tool'), inline data, an unknown chunk (JSON on substream 'unknown'), or the final status
 * part: empty text, with `usage`, `finishReason` and the service's `model` and `responseId` in its
 * metadata.
 */
export function eventToPart(
  event: Exclude<ModelEvent, { type: 'error' }>,
  source: { provider: string; model: string },
): Part {
  switch (event.type) {
    case 'text':
      return textPart(event.text, { role: 'model', ...(event.metadata ? { metadata: event.metadata } : {}) });
    case 'reasoning':
      return textPart(event.text, {
        role: 'model',
        substream: 'reasoning',
        ...(event.metadata ? { metadata: event.metadata } : {}),
      });
    case 'refusal':
      return textPart(event.text, { role: 'model', substream: 'refusal' });
    case 'toolCall':
      return part(noData, {
        mimetype: TOOL_CALL_MIMETYPE,
        role: 'model',
        toolCall: { id: event.id, name: event.name, args: event.args },
        ...(event.metadata ? { metadata: event.metadata } : {}),
      });
    case 'serverTool':
      return jsonPart(event.value ?? null, {
        type: event.kind === 'call' ? 'ServerToolCall' : 'ServerToolResult',
        role: 'model',
        substream: SERVER_TOOL_SUBSTREAM,
        metadata: {
          ...event.metadata,
          serverTool: { kind: event.kind, id: event.id, name: event.name },
          executedBy: 'server',
        },
      });
    case 'data':
      return dataPart(event.data, event.mimetype, {
        role: 'model',
        ...(event.metadata ? { metadata: event.metadata } : {}),
      });
    case 'unknown':
      return jsonPart(event.value ?? null, {
        role: 'model',
        substream: 'unknown',
        metadata: { ...event.metadata, provider: source.provider },
      });
    case 'finish':
      // Empty text: a loop printing every part's text prints only the answer.
      return statusPart('', {
        role: 'model',
        metadata: {
          provider: source.provider,
          model: event.model ?? source.model,
          requestedModel: source.model,
          ...(event.responseId !== undefined ? { responseId: event.responseId } : {}),
          finishReason: event.finishReason,
          rawFinishReason: event.rawFinishReason,
          usage: event.usage,
        },
      });
  }
}

function describeError(error: unknown): string {
  if (error instanceof APIError) return error.status ? `${error.name} (${error.status})` : error.name;
  return error instanceof Error ? error.name : 'error';
}

/** The configuration a model processor exposes to `cache()`: everything but secrets and live objects. */
export function publicConfig(
  provider: string,
  options: ModelOptions,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  // The key variable's name changes no answer: left out so that caches stay shared.
  const { apiKey: _key, apiKeyEnv: _keyEnv, headers: _headers, dispatcher: _dispatcher, ...rest } = options;
  return { provider, ...extra, ...rest };
}

/**
 * Builds a model processor: each run gathers its whole input, makes one
 * call, and streams the answer part by part as it arrives. Runs are
 * independent and may overlap (the connection pool is shared). Retries are
 * announced as status parts; stopping the run closes the socket at once.
 * `config` adds to what `cache()` keys on (e.g. which of a provider's APIs is spoken).
 */
export function modelProcessor(
  provider: string,
  options: ModelOptions,
  build: (parts: readonly Part[], options: ModelOptions) => ModelCall,
  config: Record<string, unknown> = {},
): Processor {
  if (!options || typeof options.model !== 'string' || options.model === '') {
    throw new TypeError(`${provider}: the model option is required, e.g. ${provider}({ model: '...' })`);
  }
  const name = options.name ?? `${provider}:${options.model}`;
  const source = { provider, model: options.model };
  const p = processor(
    async function* model(input, ctx) {
      const parts = await input.gather();
      const call = build(parts, options);
      const onRetry = (info: RetryInfo) =>
        ctx.status(
          `${name}: ${describeError(info.error)}, retry ${info.retry} of ${info.maxRetries} in ${Math.round(info.delayMs)} ms`,
          { metadata: { retry: info.retry, maxRetries: info.maxRetries, delayMs: info.delayMs } },
        );
      const trace = startModelTrace(ctx, { ...source, name }, parts);
      if (!trace) {
        for await (const event of runModel(call, ctx.signal, onRetry)) {
          if (event.type !== 'error') yield eventToPart(event, source);
        }
        return;
      }
      let completed = false;
      let failure: unknown;
      try {
        for await (const event of runModel(call, ctx.signal, onRetry)) {
          if (event.type === 'error') continue;
          const out = eventToPart(event, source);
          trace.event(event, out);
          yield out;
        }
        completed = true;
      } catch (error) {
        failure = error;
        throw error;
      } finally {
        trace.end(completed, failure);
      }
    },
    { name },
  );
  return withConfig(p, publicConfig(provider, options, config));
}
