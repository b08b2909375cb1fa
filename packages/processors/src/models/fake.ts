import { asText, type Part, type Processor, processor, statusPart, textPart } from '@sluice/core';
import { sleep } from '../http/retry-policy.ts';
import { withConfig } from './config.ts';
import { splitIntoTokens } from './tokens.ts';
import { startModelTrace } from './trace.ts';

/** Options of `fakeModel`. */
export interface FakeModelOptions {
  /** The answer: a string streams word by word, an array one element per part, a function computes either from the input. */
  reply: string | readonly string[] | ((input: Part[]) => string | readonly string[]);
  /** Wait before each part (global setTimeout, so fake timers drive it). Default 0. */
  delayMs?: number;
  /** Wait before the first part instead of `delayMs`. Default `delayMs`. */
  firstDelayMs?: number;
  /** Processor name; default 'fakeModel'. */
  name?: string;
}

/**
 * An in-process model for tests: gathers its input, then streams the reply
 * as text parts with role 'model' (word by word for a string), waiting
 * `firstDelayMs` before the first and `delayMs` before each next one, then a
 * status part with empty text and, in its metadata, `usage` (`inputTokens`, `outputTokens`, `totalTokens`) and
 * `finishReason: 'stop'` like the real models.
 * Deterministic; stopping the run clears the pending timer at once.
 */
export function fakeModel(options: FakeModelOptions): Processor {
  const { reply } = options;
  const delayMs = options.delayMs ?? 0;
  const firstDelayMs = options.firstDelayMs ?? delayMs;
  const name = options.name ?? 'fakeModel';
  const p = processor(
    async function* fake(input, ctx) {
      const parts = await input.gather();
      const value = typeof reply === 'function' ? reply(parts) : reply;
      const chunks = typeof value === 'string' ? splitIntoTokens(value) : [...value];
      const trace = startModelTrace(ctx, { provider: 'fake', model: name, name }, parts);
      let completed = false;
      let failure: unknown;
      try {
        for (let i = 0; i < chunks.length; i++) {
          const wait = i === 0 ? firstDelayMs : delayMs;
          if (wait > 0) await sleep(wait, ctx.signal);
          const out = textPart(chunks[i]!, { role: 'model' });
          trace?.event({ type: 'text', text: chunks[i]! }, out);
          yield out;
        }
        const inputTokens = splitIntoTokens(asText(parts)).length;
        const usage = { inputTokens, outputTokens: chunks.length, totalTokens: inputTokens + chunks.length };
        const finish = statusPart('', {
          role: 'model',
          metadata: {
            provider: 'fake',
            model: name,
            requestedModel: name,
            finishReason: 'stop',
            rawFinishReason: 'stop',
            usage,
          },
        });
        trace?.event({ type: 'finish', finishReason: 'stop', rawFinishReason: 'stop', usage }, finish);
        completed = true;
        yield finish;
      } catch (error) {
        failure = error;
        throw error;
      } finally {
        trace?.end(completed, failure);
      }
    },
    { name },
  );
  return withConfig(p, {
    provider: 'fake',
    name,
    reply: typeof reply === 'function' ? `function ${reply.name || 'anonymous'}` : reply,
    delayMs,
    firstDelayMs,
  });
}
