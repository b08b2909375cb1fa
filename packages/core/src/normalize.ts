import { ABANDONED, markPrompt, type StopOutcome, stopSource, stopsPromptly } from '@sluice/streams';
import type { Run, Stopper } from './context.ts';
import type { ContentLike } from './part.ts';
import { isPart, isReservedSubstream, PART_BRAND, type Part, type PartLike, part } from './part.ts';

/** A value a processor produced, as a part; a clear TypeError for anything else. */
export function toPart(value: unknown, where: string): Part {
  if (typeof value === 'string' || value instanceof Uint8Array) return part(value);
  if (isPart(value)) return part(value);
  throw new TypeError(
    `${where}: expected a Part, a string or a Uint8Array, got ${value === null ? 'null' : typeof value}; yield parts (textPart, jsonPart, ...) or strings`,
  );
}

/** Fast check: a part on the default substream can pass on as it is. */
export function isPlainPart(value: unknown): value is Part {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as Part).substream === '' &&
    (value as Record<symbol, unknown>)[PART_BRAND] === true
  );
}

/** Any `ContentLike` as an async iterable of part-likes (not yet checked). */
export function contentIterable(input: ContentLike): AsyncIterable<unknown> {
  if (typeof input === 'string' || input instanceof Uint8Array || isPart(input)) return fromSync([input]);
  if (typeof (input as AsyncIterable<PartLike>)[Symbol.asyncIterator] === 'function')
    return input as AsyncIterable<PartLike>;
  if (typeof (input as Iterable<PartLike>)[Symbol.iterator] === 'function')
    return fromSync(input as Iterable<PartLike>);
  throw new TypeError(
    `processor input: expected a part, a string, bytes, or an (async) iterable of them, got ${input === null ? 'null' : typeof input}`,
  );
}

function fromSync(items: Iterable<unknown>): AsyncIterable<unknown> {
  // Its reads never block: stopping may always wait for it.
  return { [Symbol.asyncIterator]: () => markPrompt(syncItems(items)) };
}

async function* syncItems(items: Iterable<unknown>): AsyncGenerator<unknown> {
  yield* items;
}

export const EMPTY: AsyncIterable<unknown> = fromSync([]);

const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });
/** `inspect`: the value was a reserved-substream part, sent to the output; read the next one. */
const SKIP = Symbol('skip');

/**
 * The input a processor's `fn` iterates: each value checked and made a part, reserved-substream
 * parts sent straight to the run's output. Not a generator: one `.then` per item is cheaper than
 * a generator hop. Stopping it early aborts the stages upstream (their signal) before returning them.
 * When the consuming stage is stopped, a read of it that is pending ends at once (done), even if
 * the source is blocked in that read, and the source is returned (see `stopSource`).
 */
export function checkedInput(
  source: AsyncIterable<unknown>,
  run: Run,
  upstream: Stopper | undefined,
  where: string,
  stopper: Stopper,
): AsyncIterable<Part> {
  return {
    [Symbol.asyncIterator](): AsyncIterator<Part> {
      const iterator = source[Symbol.asyncIterator]();
      let done = false;
      /** A `next()` of the source is in flight. */
      let pending = false;
      let stopping: Promise<StopOutcome> | undefined;
      // The stage upstream (stage code, told to stop by its signal) or a source of ours ends a
      // pending read once stopped: reads go straight through (one `.then`). The run's own input
      // may be blocked in a read that never ends: reads it serves are promises of this iterator,
      // so that stopping can answer a pending one.
      const trusted = upstream !== undefined;
      const prompt = trusted || stopsPromptly(iterator);
      let resolveRead: ((result: IteratorResult<Part>) => void) | undefined;
      let rejectRead: ((error: unknown) => void) | undefined;

      const stop = (): Promise<StopOutcome> => {
        stopping ??= stopSource(iterator, pending, trusted) ?? Promise.resolve(undefined);
        if (!prompt) {
          done = true;
          const resolve = resolveRead;
          resolveRead = rejectRead = undefined;
          resolve?.(DONE);
        }
        return stopping;
      };
      // When the consuming stage is stopped, return the source at once: a source that can stop
      // promptly (streamContent, an HTTP body) then ends a read the stage is blocked in.
      const onAbort = () => {
        if (!done) void stop();
      };
      const removeAbort = stopper.onAbort(onAbort);
      /** The value as a part (SKIP: a reserved part, sent to the output); throws on a bad value. */
      const inspect = (result: IteratorResult<unknown>): IteratorResult<Part> | typeof SKIP => {
        if (result.done) {
          done = true;
          removeAbort();
          return result;
        }
        const value = result.value;
        if (isPlainPart(value)) return result as IteratorResult<Part>;
        const p = toPart(value, where);
        if (isReservedSubstream(p.substream)) {
          run.emitSide(p);
          return SKIP;
        }
        return { done: false, value: p };
      };
      const failed = (error: unknown): never => {
        done = true;
        removeAbort();
        throw error;
      };
      const check = (result: IteratorResult<unknown>): IteratorResult<Part> | Promise<IteratorResult<Part>> => {
        const checked = inspect(result);
        return checked === SKIP ? iterator.next().then(check, failed) : checked;
      };

      // Not prompt: one promise of this iterator per read, settled by the source or by the stop.
      const executor = (resolve: (result: IteratorResult<Part>) => void, reject: (error: unknown) => void) => {
        resolveRead = resolve;
        rejectRead = reject;
      };
      const onResult = (result: IteratorResult<unknown>) => {
        pending = false;
        const resolve = resolveRead;
        // The stop answered this read already.
        if (!resolve) return;
        let checked: IteratorResult<Part> | typeof SKIP;
        try {
          checked = inspect(result);
        } catch (error) {
          const reject = rejectRead!;
          resolveRead = rejectRead = undefined;
          reject(error);
          return;
        }
        if (checked === SKIP) {
          read();
          return;
        }
        resolveRead = rejectRead = undefined;
        resolve(checked);
      };
      const onError = (error: unknown) => {
        pending = false;
        done = true;
        removeAbort();
        const reject = rejectRead;
        resolveRead = rejectRead = undefined;
        reject?.(error);
      };
      const read = () => {
        pending = true;
        try {
          iterator.next().then(onResult, onError);
        } catch (error) {
          onError(error);
        }
      };

      return markPrompt({
        next: prompt
          ? () => iterator.next().then(check, failed)
          : (): Promise<IteratorResult<Part>> => {
              if (done) return Promise.resolve(DONE);
              const promise = new Promise<IteratorResult<Part>>(executor);
              read();
              return promise;
            },
        return: async (): Promise<IteratorResult<Part>> => {
          removeAbort();
          if (!stopping) {
            if (!done) {
              upstream?.abort(new DOMException('The consumer stopped reading', 'AbortError'));
              const outcome = await stop();
              if (outcome !== undefined && outcome !== ABANDONED) throw outcome.error;
            }
          } else {
            await stopping;
          }
          done = true;
          return DONE;
        },
      });
    },
  };
}
