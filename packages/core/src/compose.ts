import { concat, markPrompt, merge, Semaphore, split } from '@sluice/streams';
import { type Context, linkAbort, runOf, stoppedReason } from './context.ts';
import type { PartMember, PartResult } from './engine.ts';
import { EXCEPTION_MIMETYPE, exceptionPart, type Part, type PartLike } from './part.ts';
import {
  chainStages,
  DEFAULT_CONCURRENCY,
  makeProcessor,
  PARENT_RUN,
  type PartProcessor,
  type Processor,
  partProcessor,
  type RunOptions,
  stagesOf,
} from './processor.ts';

/** Options for a run started by a processor for part of its work: stops with it, reports into it. */
function nested(ctx: Context): RunOptions {
  return { signal: ctx.signal, [PARENT_RUN]: runOf(ctx) } as RunOptions;
}

import type { PartStream } from './stream.ts';

/**
 * Runs processors one after another with streaming between them: b sees a's first output before a
 * finishes. Adjacent part processors are fused into one (parts cross them by function calls, each
 * keeping its own `match` and `concurrency`), so a chain of part processors is a part processor.
 * Stopping or an error in any stage stops every stage; the first error reaches the consumer.
 */
export function chain(...processors: PartProcessor[]): PartProcessor;
export function chain(...processors: Processor[]): Processor;
export function chain(...processors: Processor[]): Processor {
  return chainStages(processors);
}

function isPartProcessor(p: Processor): p is PartProcessor {
  return typeof (p as PartProcessor).match === 'function';
}

function memberConcurrency(p: PartProcessor): number {
  const stage = stagesOf(p)[0];
  if (stage?.kind !== 'parts' || stage.members.length === 0) return DEFAULT_CONCURRENCY;
  return Math.max(...stage.members.map((m) => m.concurrency));
}

/**
 * Gives every part to every processor: for each part, p's outputs then q's outputs (computed
 * concurrently, up to the largest member concurrency parts at once). A processor whose `match` is
 * false for the part adds nothing; a part no processor matches passes through. Errors and
 * stopping as in `partProcessor`.
 */
export function parallel(...processors: PartProcessor[]): PartProcessor {
  for (const p of processors) {
    if (!isPartProcessor(p)) {
      throw new TypeError(
        `parallel: ${(p as Processor).name} is not a part processor; use parallelConcat for stream processors`,
      );
    }
  }
  const name = `parallel(${processors.map((p) => p.name).join(', ')})`;
  const limits = processors.map(memberConcurrency);
  // Each processor keeps its own concurrency across parts: one semaphore per processor and run.
  const semaphores = new WeakMap<AbortSignal, Semaphore[]>();
  const gate = (ctx: Context, index: number): Semaphore => {
    let list = semaphores.get(ctx.signal);
    if (!list) {
      list = limits.map((limit) => new Semaphore(limit));
      semaphores.set(ctx.signal, list);
    }
    return list[index]!;
  };
  return partProcessor(
    (part: Part, ctx: Context) => {
      const runs: AsyncIterable<Part>[] = [];
      processors.forEach((p, index) => {
        if (p.match(part)) runs.push(gated(gate(ctx, index), () => p([part], nested(ctx))));
      });
      return runs.length === 1 ? runs[0] : concat(...runs);
    },
    {
      name,
      match: (part) => processors.some((p) => p.match(part)),
      concurrency: Math.max(DEFAULT_CONCURRENCY, ...limits),
    },
  );
}

/**
 * Runs `start()` once a slot of `semaphore` is free and holds the slot until the run ends. Not a
 * generator: `return()` must reach the inner run at once (a generator's would wait behind a
 * pending read), so stopping `parallel` stops the runs it started.
 */
function gated(semaphore: Semaphore, start: () => AsyncIterable<Part>): AsyncIterable<Part> {
  return {
    [Symbol.asyncIterator](): AsyncIterator<Part> {
      let inner: AsyncIterator<Part> | undefined;
      let waiting = semaphore.acquire();
      let holding = waiting === undefined;
      let closed = false;
      const release = () => {
        if (holding) {
          holding = false;
          semaphore.release();
        }
      };
      // It reads a run of ours, which ends a pending read as soon as it is returned.
      return markPrompt({
        async next(): Promise<IteratorResult<Part>> {
          if (waiting) {
            await waiting;
            waiting = undefined;
            holding = true;
            if (closed) {
              release();
              return { done: true, value: undefined };
            }
          }
          inner ??= start()[Symbol.asyncIterator]();
          try {
            const result = await inner.next();
            if (result.done) release();
            return result;
          } catch (error) {
            release();
            throw error;
          }
        },
        async return(): Promise<IteratorResult<Part>> {
          closed = true;
          try {
            await inner?.return?.();
          } finally {
            if (!waiting) release();
          }
          return { done: true, value: undefined };
        },
      });
    },
  };
}

/**
 * Gives the whole input to every processor and concatenates their outputs: all of p's output, then
 * all of q's, computed concurrently. Memory: each processor's copy of the input is unbounded (a
 * later processor reads all of its input while its output waits its turn, 64 parts buffered). An
 * error in any stops all; stopping stops all.
 */
export function parallelConcat(...processors: Processor[]): Processor {
  for (const p of processors) stagesOf(p);
  const name = `parallelConcat(${processors.map((p) => p.name).join(', ')})`;
  return makeProcessor(
    [
      {
        kind: 'stream',
        name,
        run: (input: PartStream | undefined, ctx: Context) => {
          const whole = input as PartStream;
          if (processors.length === 0) return whole;
          // Unbounded branches: a later processor's output waits its turn, so it must be able to
          // read its whole input meanwhile (a bounded branch would stall the first processor).
          const branches = split<Part>(whole, { n: processors.length, highWaterMark: Number.POSITIVE_INFINITY });
          return concat(...processors.map((p, i) => p(branches[i]!, nested(ctx))));
        },
      },
    ],
    name,
  );
}

/** Keeps the parts for which `predicate` is true, in order (reserved-substream parts always pass). */
export function filter(predicate: (part: Part) => boolean): PartProcessor {
  return partProcessor((part) => (predicate(part) ? part : undefined), { name: 'filter' });
}

/** Passes every part through unchanged. */
export function passthrough(): PartProcessor {
  return partProcessor((part) => part, { name: 'passthrough' });
}

/**
 * A processor that produces parts of its own: `fn`'s parts are merged with the input stream (in
 * order of arrival). With `stopOnFirst` (default true) the run ends as soon as either the input or
 * `fn` ends; called without input, it runs until `fn` ends. Stopping returns `fn`'s iterator and
 * aborts `ctx.signal`.
 */
export function source(
  fn: (ctx: Context) => AsyncIterable<PartLike>,
  options: { name?: string; stopOnFirst?: boolean } = {},
): Processor {
  const name = options.name ?? (fn.name || 'source');
  const stopOnFirst = options.stopOnFirst ?? true;
  return makeProcessor(
    [
      {
        kind: 'stream',
        name,
        acceptsNoInput: true,
        run: (input, ctx) => {
          if (input === undefined) return fn(ctx);
          // fn gets its own signal, aborted before merge returns it: fn may be waiting on the signal
          // (as real I/O does) when the input ends, and returning it would otherwise wait forever.
          const own = new AbortController();
          linkAbort(ctx.signal, own);
          return merge<PartLike>([input, abortOnReturn(fn({ ...ctx, signal: own.signal }), own)], { stopOnFirst });
        },
      },
    ],
    name,
  );
}

/** The same iterable, whose iterator's `return()` first aborts `controller`. */
function abortOnReturn<T>(iterable: AsyncIterable<T>, controller: AbortController): AsyncIterable<T> {
  return {
    [Symbol.asyncIterator]: () => {
      const iterator = iterable[Symbol.asyncIterator]();
      // fn is stage code, told to stop by its signal (aborted first): merge waits for its `finally`.
      return markPrompt({
        next: () => iterator.next(),
        return: (value?: unknown) => {
          controller.abort(stoppedReason());
          return iterator.return
            ? iterator.return(value)
            : Promise.resolve({ done: true, value: undefined } as IteratorResult<T>);
        },
      });
    },
  };
}

/**
 * Turns errors into parts downstream processors can see: mimetype 'text/x-exception', text
 * `<name>: <message>`, metadata { name, message }. For a part processor, an error while processing
 * one part takes that part's place and the stream goes on; otherwise the exception part is the last
 * output. Stopping (an abort, the consumer leaving) is not caught.
 */
export function catchErrors(p: PartProcessor): PartProcessor;
export function catchErrors(p: Processor): Processor;
export function catchErrors(p: Processor): Processor {
  const name = `catchErrors(${p.name})`;
  if (isPartProcessor(p)) {
    const stage = stagesOf(p)[0];
    if (stage?.kind === 'parts') {
      // Wrap each member: the chain stays fused and each member keeps its concurrency. An exception
      // part made here takes the place of p's output for that part, so it passes the members after
      // the failing one untouched; exception parts from upstream reach p's members like any part.
      const mine = new WeakSet<Part>();
      const members: PartMember[] = stage.members.map((m) => ({
        name: m.name,
        concurrency: m.concurrency,
        lazy: m.lazy,
        match: (part) => !(part.mimetype === EXCEPTION_MIMETYPE && mine.has(part)) && m.match(part),
        fn: (part, ctx) => guard(() => m.fn(part, ctx), ctx, mine),
        ...(m.onInputEnd ? { onInputEnd: m.onInputEnd } : {}),
      }));
      return makeProcessor([{ kind: 'parts', members }], name);
    }
  }
  return makeProcessor(
    [
      {
        kind: 'stream',
        name,
        run: async function* (input: PartStream | undefined, ctx: Context) {
          try {
            yield* p(input, nested(ctx));
          } catch (error) {
            if (ctx.signal.aborted) throw error;
            yield exceptionPart(error);
          }
        },
      },
    ],
    name,
  );
}

/** Calls a part processor's fn and turns what it throws (now, in its promise or its iterator) into an exception part. */
function guard(call: () => PartResult, ctx: Context, mine: WeakSet<Part>): PartResult {
  const caught = (error: unknown) => {
    if (ctx.signal.aborted) throw error;
    const exception = exceptionPart(error);
    mine.add(exception);
    return exception;
  };
  let result: PartResult;
  try {
    result = call();
  } catch (error) {
    return caught(error);
  }
  if (result === undefined || result === null || typeof result !== 'object') return result;
  if (typeof (result as PromiseLike<unknown>).then === 'function') {
    return (result as Promise<PartLike | Iterable<PartLike> | undefined>).then(materialize, caught);
  }
  if (typeof (result as AsyncIterable<PartLike>)[Symbol.asyncIterator] === 'function') {
    return (async function* () {
      try {
        yield* result as AsyncIterable<PartLike>;
      } catch (error) {
        yield caught(error);
      }
    })();
  }
  if (typeof (result as Iterable<PartLike>)[Symbol.iterator] === 'function' && !(result instanceof Uint8Array)) {
    try {
      return materialize(result as Iterable<PartLike>);
    } catch (error) {
      return caught(error);
    }
  }
  return result;

  /** A lazy iterable (a generator) may throw while it is read: read it here. */
  function materialize(value: PartLike | Iterable<PartLike> | undefined | void): PartLike | PartLike[] | undefined {
    if (value === undefined || value === null || typeof value === 'string' || value instanceof Uint8Array) {
      return value ?? undefined;
    }
    if (typeof (value as Iterable<PartLike>)[Symbol.iterator] === 'function') {
      const out: PartLike[] = [];
      try {
        for (const item of value as Iterable<PartLike>) out.push(item);
      } catch (error) {
        out.push(caught(error));
      }
      return out;
    }
    return value as PartLike;
  }
}
