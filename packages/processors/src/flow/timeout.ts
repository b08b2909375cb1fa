import { isReservedSubstream, type Processor, processor } from '@sluice/core';
import { SluiceError } from '@sluice/streams';
import { configOf, withConfig } from '../models/config.ts';

/** Limits of `timeout`, in milliseconds; each is optional. */
export interface TimeoutOptions {
  /** Longest wait for the first output part (reserved-substream parts do not count). */
  firstPartMs?: number;
  /** Longest wait between two output parts. */
  idleMs?: number;
  /** Longest whole run. */
  totalMs?: number;
}

/** Which limit of `timeout` fired. */
export type TimeoutLimit = keyof TimeoutOptions;

/** A run of a processor wrapped in `timeout` took longer than one of its limits. */
export class ProcessorTimeoutError extends SluiceError {
  override name = 'ProcessorTimeoutError';
  declare readonly code: 'E_TIMEOUT';
  /** The option that fired, e.g. 'firstPartMs'. */
  readonly limit: TimeoutLimit;
  readonly ms: number;
  constructor(processorName: string, limit: TimeoutLimit, ms: number) {
    const what =
      limit === 'firstPartMs' ? 'no first part' : limit === 'idleMs' ? 'no next part' : 'the run did not end';
    const hint = `raise ${limit} or check what the processor waits for`;
    super('E_TIMEOUT', `${processorName}: ${what} within ${ms} ms (${limit}); ${hint}`, { hint });
    this.limit = limit;
    this.ms = ms;
  }
}

function checkLimit(name: TimeoutLimit, value: number | undefined): void {
  if (value !== undefined && !(value > 0))
    throw new RangeError(`timeout: ${name} must be > 0 ms, got ${String(value)}`);
}

/**
 * Runs `p` with time limits: `firstPartMs` until its first output part,
 * `idleMs` between parts, `totalMs` for the whole run. Parts pass through
 * unchanged and in order as soon as they arrive. When a limit fires, `p` is
 * stopped (its signal aborts, its sockets close) and the run fails with
 * `ProcessorTimeoutError`; timers use the global setTimeout and are cleared
 * whenever the run ends, however it ends.
 */
export function timeout(p: Processor, options: TimeoutOptions): Processor {
  checkLimit('firstPartMs', options.firstPartMs);
  checkLimit('idleMs', options.idleMs);
  checkLimit('totalMs', options.totalMs);
  const name = `timeout(${p.name})`;
  const wrapped = processor(
    async function* timed(input, ctx) {
      const controller = new AbortController();
      const onAbort = () => controller.abort(ctx.signal.reason);
      ctx.signal.addEventListener('abort', onAbort, { once: true });
      const iterator = p(input, { signal: controller.signal })[Symbol.asyncIterator]();
      const startedAt = Date.now();
      let first = true;
      let finished = false;
      try {
        while (true) {
          let limit: TimeoutLimit | undefined;
          let ms = Number.POSITIVE_INFINITY;
          const stepLimit = first ? 'firstPartMs' : 'idleMs';
          const step = options[stepLimit];
          if (step !== undefined) {
            limit = stepLimit;
            ms = step;
          }
          if (options.totalMs !== undefined) {
            const left = options.totalMs - (Date.now() - startedAt);
            if (left <= ms) {
              limit = 'totalMs';
              ms = Math.max(0, left);
            }
          }
          let timer: ReturnType<typeof setTimeout> | undefined;
          const next = iterator.next();
          let result: IteratorResult<unknown>;
          try {
            result =
              limit === undefined
                ? await next
                : await Promise.race([
                    next,
                    new Promise<never>((_, reject) => {
                      const fired = limit;
                      const firedMs = fired === 'totalMs' ? (options.totalMs ?? ms) : ms;
                      timer = setTimeout(() => reject(new ProcessorTimeoutError(p.name, fired, firedMs)), ms);
                    }),
                  ]);
          } catch (error) {
            // The pending next() settles once p is stopped; keep its rejection handled.
            next.catch(() => {});
            throw error;
          } finally {
            clearTimeout(timer);
          }
          if (result.done) {
            finished = true;
            return;
          }
          const part = result.value as { substream: string };
          if (!isReservedSubstream(part.substream)) first = false;
          yield result.value as never;
        }
      } catch (error) {
        if (error instanceof ProcessorTimeoutError) controller.abort(error);
        throw error;
      } finally {
        ctx.signal.removeEventListener('abort', onAbort);
        if (!finished) {
          if (!controller.signal.aborted) controller.abort(ctx.signal.reason);
          // p's signal is aborted first, so a pending next() settles and return() completes.
          await iterator.return?.().catch(() => {});
        }
      }
    },
    { name },
  );
  return withConfig(wrapped, { wraps: p.name, inner: configOf(p), timeout: { ...options } });
}
