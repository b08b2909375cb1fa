import { ABANDONED, markPrompt, type StopOutcome, stopSource, stopsPromptly } from '@sluice/streams';
import type { Run, Stopper } from './context.ts';
import { Lazy } from './lazy.ts';
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
  return new Lazy(() => markPrompt(syncItems(items)));
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
  return new Lazy(() => markPrompt(new CheckedInput(source[Symbol.asyncIterator](), run, upstream, where, stopper)));
}

/** The iterator of `checkedInput` (a class: one object and two bound callbacks per stage and run). */
class CheckedInput implements AsyncIterator<Part> {
  readonly #iterator: AsyncIterator<unknown>;
  readonly #run: Run;
  readonly #upstream: Stopper | undefined;
  readonly #where: string;
  /**
   * The stage upstream (stage code, told to stop by its signal) or a source of ours ends a pending
   * read once stopped: reads go straight through (one `.then`). The run's own input may be blocked
   * in a read that never ends: reads it serves are promises of this iterator, so that stopping can
   * answer a pending one.
   */
  readonly #prompt: boolean;
  #done = false;
  /** A `next()` of the source is in flight (reads of a source that is not prompt). */
  #pending = false;
  #stopping: Promise<StopOutcome> | undefined;
  #removeAbort: () => void;
  #resolveRead: ((result: IteratorResult<Part>) => void) | undefined;
  #rejectRead: ((error: unknown) => void) | undefined;
  readonly #check = (result: IteratorResult<unknown>): IteratorResult<Part> | Promise<IteratorResult<Part>> => {
    const checked = this.#inspect(result);
    return checked === SKIP ? this.#iterator.next().then(this.#check, this.#failed) : checked;
  };
  readonly #failed = (error: unknown): never => {
    this.#done = true;
    this.#removeAbort();
    throw error;
  };
  #slow: SlowReads | undefined;

  constructor(
    iterator: AsyncIterator<unknown>,
    run: Run,
    upstream: Stopper | undefined,
    where: string,
    stopper: Stopper,
  ) {
    this.#iterator = iterator;
    this.#run = run;
    this.#upstream = upstream;
    this.#where = where;
    this.#prompt = upstream !== undefined || stopsPromptly(iterator);
    // When the consuming stage is stopped, return the source at once: a source that can stop
    // promptly (streamContent, an HTTP body) then ends a read the stage is blocked in.
    this.#removeAbort = stopper.onAbort(() => {
      if (!this.#done) void this.#stop();
    });
  }

  next(): Promise<IteratorResult<Part>> {
    if (this.#prompt) return this.#iterator.next().then(this.#check, this.#failed);
    if (this.#done) return Promise.resolve(DONE);
    const slow = (this.#slow ??= this.#slowReads());
    const promise = new Promise<IteratorResult<Part>>(slow.executor);
    slow.read();
    return promise;
  }

  async return(): Promise<IteratorResult<Part>> {
    this.#removeAbort();
    if (!this.#stopping) {
      if (!this.#done) {
        this.#upstream?.abort(new DOMException('The consumer stopped reading', 'AbortError'));
        const outcome = await this.#stop();
        if (outcome !== undefined && outcome !== ABANDONED) throw outcome.error;
      }
    } else {
      await this.#stopping;
    }
    this.#done = true;
    return DONE;
  }

  #stop(): Promise<StopOutcome> {
    this.#stopping ??=
      stopSource(this.#iterator, this.#pending, this.#upstream !== undefined) ?? Promise.resolve(undefined);
    if (!this.#prompt) {
      this.#done = true;
      const resolve = this.#resolveRead;
      this.#resolveRead = this.#rejectRead = undefined;
      resolve?.(DONE);
    }
    return this.#stopping;
  }

  /** The value as a part (SKIP: a reserved part, sent to the output); throws on a bad value. */
  #inspect(result: IteratorResult<unknown>): IteratorResult<Part> | typeof SKIP {
    if (result.done) {
      this.#done = true;
      this.#removeAbort();
      return result;
    }
    const value = result.value;
    if (isPlainPart(value)) return result as IteratorResult<Part>;
    const p = toPart(value, this.#where);
    if (isReservedSubstream(p.substream)) {
      this.#run.emitSide(p);
      return SKIP;
    }
    return { done: false, value: p };
  }

  /** Reads of a source that is not prompt: each answers a promise of this iterator. */
  #slowReads(): SlowReads {
    const onResult = (result: IteratorResult<unknown>) => {
      this.#pending = false;
      const resolve = this.#resolveRead;
      // The stop answered this read already.
      if (!resolve) return;
      let checked: IteratorResult<Part> | typeof SKIP;
      try {
        checked = this.#inspect(result);
      } catch (error) {
        const reject = this.#rejectRead!;
        this.#resolveRead = this.#rejectRead = undefined;
        reject(error);
        return;
      }
      if (checked === SKIP) {
        read();
        return;
      }
      this.#resolveRead = this.#rejectRead = undefined;
      resolve(checked);
    };
    const onError = (error: unknown) => {
      this.#pending = false;
      this.#done = true;
      this.#removeAbort();
      const reject = this.#rejectRead;
      this.#resolveRead = this.#rejectRead = undefined;
      reject?.(error);
    };
    const read = () => {
      this.#pending = true;
      try {
        this.#iterator.next().then(onResult, onError);
      } catch (error) {
        onError(error);
      }
    };
    return {
      executor: (resolve, reject) => {
        this.#resolveRead = resolve;
        this.#rejectRead = reject;
      },
      read,
    };
  }
}

interface SlowReads {
  readonly executor: (resolve: (result: IteratorResult<Part>) => void, reject: (error: unknown) => void) => void;
  readonly read: () => void;
}
