import { concat, merge, split } from '@sluice/streams';
import type { Context } from './context.ts';
import { exceptionPart, type Part, type PartLike } from './part.ts';
import {
  chainStages,
  DEFAULT_CONCURRENCY,
  makeProcessor,
  type PartProcessor,
  type Processor,
  partProcessor,
  stagesOf,
} from './processor.ts';
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
  return partProcessor(
    (part: Part, ctx: Context) => {
      const runs = processors.filter((p) => p.match(part)).map((p) => p([part], { signal: ctx.signal }));
      return runs.length === 1 ? runs[0] : concat(...runs);
    },
    {
      name,
      match: (part) => processors.some((p) => p.match(part)),
      concurrency: Math.max(DEFAULT_CONCURRENCY, ...processors.map(memberConcurrency)),
    },
  );
}

/**
 * Gives the whole input to every processor and concatenates their outputs: all of p's output, then
 * all of q's, computed concurrently (later outputs buffer, 64 parts each, until their turn). An
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
          const branches = split<Part>(whole, { n: processors.length });
          return concat(...processors.map((p, i) => p(branches[i]!, { signal: ctx.signal })));
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
        run: (input, ctx) => (input === undefined ? fn(ctx) : merge<PartLike>([input, fn(ctx)], { stopOnFirst })),
      },
    ],
    name,
  );
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
    return partProcessor(
      async function* (part: Part, ctx: Context) {
        try {
          yield* p([part], { signal: ctx.signal });
        } catch (error) {
          if (ctx.signal.aborted) throw error;
          yield exceptionPart(error);
        }
      },
      { name, match: (part) => p.match(part), concurrency: memberConcurrency(p) },
    );
  }
  return makeProcessor(
    [
      {
        kind: 'stream',
        name,
        run: async function* (input: PartStream | undefined, ctx: Context) {
          try {
            yield* p(input, { signal: ctx.signal });
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
