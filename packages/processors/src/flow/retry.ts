import { isReservedSubstream, type Part, type Processor, processor, textPart } from '@sluice/core';
import { APIError } from '../http/errors.ts';
import { isRetryableError, RETRY_DEFAULTS, retryDelayMs, sleep } from '../http/retry-policy.ts';
import { configOf, withConfig } from '../models/config.ts';

/** Options of `retry`. */
export interface RetryOptions {
  /** Retries after the first attempt; default 2. `retries` is the same option. */
  maxRetries?: number;
  /** Alias of `maxRetries`. */
  retries?: number;
  /** First backoff delay; default 500 ms, doubling up to `maxRetryDelayMs` (default 8 s), minus up to 25 % jitter. */
  initialRetryDelayMs?: number;
  maxRetryDelayMs?: number;
  /**
   * Which errors to retry. Default: every error except API errors that
   * retrying cannot fix (400, 401, 403, 404, 422, ...) and aborts.
   */
  shouldRetry?: (error: unknown, attempt: number) => boolean;
  /**
   * After a model already streamed text, re-ask with that text as a trailing
   * 'model' part (a prefill) and pass on only what is new. Default true.
   */
  resume?: boolean;
}

function isAbort(error: unknown): boolean {
  return (
    (error instanceof DOMException || error instanceof Error) &&
    (error.name === 'AbortError' || error.name === 'TimeoutError')
  );
}

/**
 * The default `shouldRetry` of `retry()`: false for aborts and for API errors
 * that retrying cannot fix (400, 401, 403, 404, 422, ...), true otherwise.
 */
export function defaultShouldRetry(error: unknown): boolean {
  if (isAbort(error)) return false;
  if (error instanceof APIError) return isRetryableError(error);
  return true;
}

const isModelText = (part: Part) => part.role === 'model' && part.substream === '' && part.mimetype === 'text/plain';
const isReasoning = (part: Part) => part.role === 'model' && part.substream === 'reasoning' && part.text !== undefined;

/**
 * Drops the text a resumed model repeats. Fed the new attempt's text parts:
 * while they spell a prefix of what was already emitted they are held back;
 * once the model goes past it (it restarted) only the rest passes; once they
 * diverge (it continued the prefill) everything passes.
 */
class RepeatFilter {
  #emitted: string;
  #pending = '';
  #matching = true;
  #first: Part | undefined;

  constructor(emitted: string) {
    this.#emitted = emitted;
  }

  push(part: Part): Part[] {
    if (!this.#matching) return [part];
    this.#first ??= part;
    const candidate = this.#pending + (part.text ?? '');
    if (this.#emitted.startsWith(candidate)) {
      this.#pending = candidate;
      if (candidate.length === this.#emitted.length) this.#done();
      return [];
    }
    const first = this.#first;
    this.#done();
    if (candidate.startsWith(this.#emitted)) {
      const rest = candidate.slice(this.#emitted.length);
      return rest === '' ? [] : [textPart(rest, { role: 'model', metadata: part.metadata })];
    }
    return candidate === part.text ? [part] : [textPart(candidate, { role: 'model', metadata: first?.metadata })];
  }

  #done(): void {
    this.#matching = false;
    this.#pending = '';
    this.#first = undefined;
  }
}

/**
 * Re-runs `p` when its run fails, up to `maxRetries` times with backoff
 * (global setTimeout; `retry-after` of API errors honoured). A run that
 * failed before emitting anything is simply retried with the same input
 * (buffered: retry gathers its input first). A model run that failed after
 * streaming text is resumed: asked again with the text so far as a 'model'
 * part, and only new text is passed on, so downstream sees no duplicate (the
 * resumed run's reasoning is dropped). A run that emitted other parts is not
 * retried. Each retry is announced with a status part; stopping the run
 * stops the attempt in flight and the wait.
 */
export function retry(p: Processor, options: RetryOptions = {}): Processor {
  const maxRetries = options.maxRetries ?? options.retries ?? RETRY_DEFAULTS.maxRetries;
  if (!(maxRetries >= 0) || !Number.isInteger(maxRetries)) {
    throw new RangeError(`retry: maxRetries must be an integer >= 0, got ${String(maxRetries)}`);
  }
  const shouldRetry = options.shouldRetry ?? defaultShouldRetry;
  const resume = options.resume ?? true;
  const name = `retry(${p.name})`;
  const wrapped = processor(
    async function* retrying(input, ctx) {
      const parts = await input.gather();
      let emittedText = '';
      let emittedOther = false;
      let emittedReasoning = false;
      for (let attempt = 0; ; attempt++) {
        const resuming = emittedText !== '' || emittedReasoning;
        const attemptInput = emittedText === '' ? parts : [...parts, textPart(emittedText, { role: 'model' })];
        const filter = emittedText === '' ? undefined : new RepeatFilter(emittedText);
        try {
          for await (const part of p(attemptInput, { signal: ctx.signal })) {
            if (isReservedSubstream(part.substream)) {
              yield part;
            } else if (isModelText(part)) {
              for (const out of filter ? filter.push(part) : [part]) {
                emittedText += out.text ?? '';
                yield out;
              }
            } else if (isReasoning(part)) {
              if (resuming) continue;
              emittedReasoning = true;
              yield part;
            } else {
              emittedOther = true;
              yield part;
            }
          }
          return;
        } catch (error) {
          if (ctx.signal.aborted) throw error;
          const resumable = !emittedOther && (resume || (emittedText === '' && !emittedReasoning));
          if (attempt >= maxRetries || !resumable || !shouldRetry(error, attempt + 1)) throw error;
          const delayMs = retryDelayMs(attempt, {
            initialRetryDelayMs: options.initialRetryDelayMs,
            maxRetryDelayMs: options.maxRetryDelayMs,
            headers: error instanceof APIError ? error.headers : undefined,
          });
          const why = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
          ctx.status(
            `${p.name} failed (${why}); ${emittedText ? 'resuming' : 'retrying'} in ${Math.round(delayMs)} ms, retry ${attempt + 1} of ${maxRetries}`,
            { metadata: { retry: attempt + 1, maxRetries, delayMs, resumed: emittedText !== '' } },
          );
          await sleep(delayMs, ctx.signal);
        }
      }
    },
    { name },
  );
  return withConfig(wrapped, { wraps: p.name, inner: configOf(p) });
}
