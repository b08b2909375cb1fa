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

async function* fromSync(items: Iterable<unknown>): AsyncGenerator<unknown> {
  yield* items;
}

export const EMPTY: AsyncIterable<unknown> = fromSync([]);

/**
 * The input a processor's `fn` iterates: each value checked and made a part, reserved-substream
 * parts sent straight to the run's output. Not a generator: one `.then` per item is cheaper than
 * a generator hop. Stopping it early aborts the stages upstream (their signal) before returning them.
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
      // When the consuming stage is stopped, return the source at once: a source that can stop
      // promptly (streamContent, an HTTP body) then ends a read the stage is blocked in.
      const onAbort = () => {
        if (!done) void Promise.resolve(iterator.return?.()).catch(() => {});
      };
      const removeAbort = stopper.onAbort(onAbort);
      const check = (result: IteratorResult<unknown>): IteratorResult<Part> | Promise<IteratorResult<Part>> => {
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
          return iterator.next().then(check, failed);
        }
        return { done: false, value: p };
      };
      const failed = (error: unknown): never => {
        done = true;
        removeAbort();
        throw error;
      };
      return {
        next: () => iterator.next().then(check, failed),
        return: async (): Promise<IteratorResult<Part>> => {
          removeAbort();
          if (!done) {
            done = true;
            upstream?.abort(new DOMException('The consumer stopped reading', 'AbortError'));
            await iterator.return?.();
          }
          return { done: true, value: undefined };
        },
      };
    },
  };
}
