// The call a model processor records of its own when a tracing is active: kind 'llm', named with
// the OpenTelemetry GenAI attribute names, its first output the first token. With no tracing
// installed `startModelTrace` returns undefined and the model runs exactly as before.

import { type CallHandle, type Context, type Part, startCall } from '@sluice/core';
import type { ModelEvent, Usage } from './events.ts';

/** The open 'llm' call of one model run. */
export class ModelTrace {
  #usage: Usage | undefined;
  #finishReasons: string[] = [];
  #ended = false;
  constructor(
    readonly handle: CallHandle,
    readonly model: string,
  ) {}

  /** Records one event and the part made of it. */
  event(event: ModelEvent, part: Part): void {
    if (event.type === 'finish') {
      if (event.usage) this.#usage = event.usage;
      if (event.finishReason) this.#finishReasons.push(event.finishReason);
      return;
    }
    this.handle.output(part);
  }

  /** Ends the call: `ok` when `completed`, `error` with `error`, else `cancelled`. Once. */
  end(completed: boolean, error?: unknown): void {
    if (this.#ended) return;
    this.#ended = true;
    const usage = this.#usage;
    const attributes: Record<string, unknown> = { 'gen_ai.response.model': this.model };
    if (usage) {
      attributes['gen_ai.usage.input_tokens'] = usage.inputTokens;
      attributes['gen_ai.usage.output_tokens'] = usage.outputTokens;
    }
    if (this.#finishReasons.length > 0) attributes['gen_ai.response.finish_reasons'] = this.#finishReasons;
    const status = completed ? 'ok' : error !== undefined && !isAbort(error) ? 'error' : 'cancelled';
    this.handle.end({ status, ...(status === 'error' ? { error } : {}), attributes, ...(usage ? { usage } : {}) });
  }
}

function isAbort(error: unknown): boolean {
  return error instanceof Error && error.name === 'AbortError';
}

/** Starts the 'llm' call of a model run under the current call of `ctx`; undefined when nothing records. */
export function startModelTrace(
  ctx: Context,
  source: { provider: string; model: string; name: string },
  inputs: readonly Part[],
): ModelTrace | undefined {
  const handle = startCall(ctx, {
    op: source.name,
    kind: 'llm',
    inputs,
    attributes: {
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': source.provider,
      'gen_ai.request.model': source.model,
    },
  });
  return handle ? new ModelTrace(handle, source.model) : undefined;
}
