import { type Context, linkAbort, Run, stoppedReason, subscribeAbort } from './context.ts';
import { type PartMember, type PartResult, runFused } from './engine.ts';
import { checkedInput, contentIterable, EMPTY, isPlainPart, toPart } from './normalize.ts';
import type { ContentLike, Part, PartLike } from './part.ts';
import { PartStream } from './stream.ts';

export interface RunOptions {
  signal?: AbortSignal;
}

/** @internal RunOptions key: the run of the processor that starts this one (see `Run.parent`). */
export const PARENT_RUN = Symbol('sluice.parentRun');

/** A callable stage of a pipeline: `p(input, { signal })` returns the stream of its output parts. */
export interface Processor {
  (input?: ContentLike, options?: RunOptions): PartStream;
  readonly name: string;
  /** Same as `chain(this, ...next)`. */
  pipe(...next: Processor[]): Processor;
}

/** A processor that handles parts one by one; parts for which `match` is false pass through. */
export interface PartProcessor extends Processor {
  match(part: Part): boolean;
  pipe(...next: PartProcessor[]): PartProcessor;
  pipe(...next: Processor[]): Processor;
}

/** Default number of parts a part processor handles at once. */
export const DEFAULT_CONCURRENCY = 8;

/** @internal How a processor runs: a list of stages, adjacent part processors fused into one. */
export type Stage =
  | { readonly kind: 'parts'; readonly members: readonly PartMember[] }
  | {
      readonly kind: 'stream';
      readonly name: string;
      /** Runs without input (undefined) when it heads a run that was called without input. */
      readonly acceptsNoInput?: boolean;
      readonly run: (input: PartStream | undefined, ctx: Context) => AsyncIterable<PartLike>;
    };

export const STAGES = Symbol.for('sluice.stages');

/** @internal */
export function stagesOf(p: Processor): readonly Stage[] {
  const stages = (p as unknown as Record<symbol, readonly Stage[] | undefined>)[STAGES];
  if (!stages) {
    throw new TypeError(
      `${p?.name || 'value'} is not a Sluice processor; make one with processor(fn) or partProcessor(fn)`,
    );
  }
  return stages;
}

/** @internal Builds the callable processor object for a list of stages. */
export function makeProcessor(stages: readonly Stage[], name: string): Processor {
  const members = stages.length === 1 && stages[0]!.kind === 'parts' ? stages[0]!.members : undefined;
  const call = (input?: ContentLike, options?: RunOptions): PartStream =>
    new PartStream({
      [Symbol.asyncIterator]: () => {
        const parent = (options as Record<symbol, Run | undefined> | undefined)?.[PARENT_RUN];
        const run = new Run(parent);
        const generator = runStages(stages, input, options?.signal, run);
        // A native generator's return() waits behind a pending next(); stop the run first so
        // every stage's signal aborts and that pending read ends.
        const close = generator.return.bind(generator);
        generator.return = (value) => {
          run.stop();
          return close(value);
        };
        return generator;
      },
    });
  Object.defineProperty(call, 'name', { value: name });
  Object.defineProperty(call, STAGES, { value: stages });
  const pipe = (...next: Processor[]) => chainStages([call as unknown as Processor, ...next]);
  Object.defineProperty(call, 'pipe', { value: pipe });
  if (members) {
    const match = (p: Part) => members.some((m) => m.match(p));
    Object.defineProperty(call, 'match', { value: match });
  }
  return call as unknown as Processor;
}

/** @internal chain() without the overloads. */
export function chainStages(processors: readonly Processor[]): Processor {
  const stages: Stage[] = [];
  for (const p of processors) {
    for (const stage of stagesOf(p)) {
      const last = stages[stages.length - 1];
      if (stage.kind === 'parts' && last?.kind === 'parts') {
        stages[stages.length - 1] = { kind: 'parts', members: [...last.members, ...stage.members] };
      } else {
        stages.push(stage);
      }
    }
  }
  if (stages.length === 0) stages.push({ kind: 'parts', members: [] });
  const name = processors.map((p) => p.name).join(' -> ') || 'chain';
  return makeProcessor(stages, name);
}

/**
 * Makes a processor from a function of the whole input stream. `fn` receives the input parts
 * (reserved-substream parts excluded: they go straight to the output) and yields parts, strings or
 * bytes, streamed to the consumer as they come. Stopping: when the run stops, `ctx.signal` aborts
 * and `fn`'s generator is returned (its `finally` runs); an error it throws ends the run and
 * reaches the consumer unchanged.
 */
export function processor(
  fn: (input: PartStream, ctx: Context) => AsyncIterable<PartLike>,
  options: { name?: string } = {},
): Processor {
  const name = options.name ?? (fn.name || 'processor');
  return makeProcessor(
    [{ kind: 'stream', name, run: (input, ctx) => fn(input ?? new PartStream(EMPTY as AsyncIterable<Part>), ctx) }],
    name,
  );
}

/**
 * Makes a processor that handles each part for which `match` is true (default: all) with `fn`;
 * other parts pass through in their place. Up to `concurrency` parts (default 8) are processed at
 * once; all outputs of part i come before any output of part i+1, and the head part's outputs
 * stream out as they are produced. An error ends the run (wrap with `catchErrors` to keep going);
 * stopping aborts `ctx.signal` and returns every `fn` iterator still running.
 */
export function partProcessor(
  fn: (part: Part, ctx: Context) => PartResult,
  options: {
    name?: string;
    match?: (part: Part) => boolean;
    concurrency?: number;
    /**
     * Pull the outputs of `fn`'s async iterable after the first only when the consumer asks for
     * them: no read-ahead, so stopping early stops `fn` before its later steps (for example a
     * final commit) run. Default false (up to 64 outputs of the head part are read ahead).
     */
    lazy?: boolean;
  } = {},
): PartProcessor {
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  if (!(concurrency >= 1) || (!Number.isInteger(concurrency) && concurrency !== Number.POSITIVE_INFINITY)) {
    throw new RangeError(`partProcessor: concurrency must be an integer >= 1, got ${String(options.concurrency)}`);
  }
  const name = options.name ?? (fn.name || 'partProcessor');
  const member: PartMember = { name, fn, match: options.match ?? matchAll, concurrency, lazy: options.lazy ?? false };
  return makeProcessor([{ kind: 'parts', members: [member] }], name) as PartProcessor;
}

function noop(): void {}

function matchAll(): boolean {
  return true;
}

/**
 * Runs the stages over `input`: stage k+1 reads stage k's output as it streams. Reserved-substream
 * parts and `ctx.status()` parts reach the output at once. Stopping (consumer break, caller abort,
 * an error anywhere) aborts every stage's signal, returns every stage, and then surfaces the first
 * error (or the caller's abort reason) unchanged.
 */
async function* runStages(
  stages: readonly Stage[],
  input: ContentLike | undefined,
  signal: AbortSignal | undefined,
  run: Run,
): AsyncGenerator<Part> {
  if (signal?.aborted) throw signal.reason;
  const removeAbort = subscribeAbort(signal, (reason) => run.fail(reason));
  let iterator: AsyncIterator<unknown> | undefined;
  let mainDone = false;
  try {
    let upstream: AsyncIterable<unknown> | undefined = input === undefined ? undefined : contentIterable(input);
    let upstreamController: AbortController | undefined;
    const controllers = stages.map(() => new AbortController());
    linkAbort(run.controller.signal, controllers[controllers.length - 1]!);
    for (let k = controllers.length - 1; k > 0; k--) linkAbort(controllers[k]!.signal, controllers[k - 1]!);
    for (let k = 0; k < stages.length; k++) {
      const stage = stages[k]!;
      const controller = controllers[k]!;
      const ctx = run.context(controller.signal);
      const source = upstream;
      const above = upstreamController;
      if (stage.kind === 'parts') {
        upstream = {
          [Symbol.asyncIterator]: () => runFused(stage.members, source ?? EMPTY, run, ctx, controller, above),
        };
      } else {
        const stageInput =
          source === undefined && stage.acceptsNoInput
            ? undefined
            : new PartStream(checkedInput(source ?? EMPTY, run, above, stage.name, controller.signal));
        upstream = { [Symbol.asyncIterator]: () => stage.run(stageInput, ctx)[Symbol.asyncIterator]() };
      }
      upstreamController = controller;
    }
    const last = stages[stages.length - 1]!;
    const outputName = last.kind === 'stream' ? last.name : last.members.map((m) => m.name).join(' -> ');
    iterator = upstream![Symbol.asyncIterator]();
    let pending: Promise<IteratorResult<unknown>> | undefined;
    while (true) {
      if (run.side.length > 0) {
        yield run.side.shift()!;
        continue;
      }
      run.throwIfFailed();
      if (!pending) {
        pending = iterator.next();
        pending.catch(noop);
      }
      let result: IteratorResult<unknown> | undefined;
      try {
        result = await run.race(pending);
      } catch (error) {
        mainDone = true;
        throw error;
      }
      if (result === undefined) {
        if (run.stopRequested && !run.failure) return;
        continue;
      }
      pending = undefined;
      if (result.done) {
        mainDone = true;
        break;
      }
      const value = result.value;
      yield isPlainPart(value) ? value : toPart(value, outputName);
    }
    while (run.side.length > 0) yield run.side.shift()!;
    run.throwIfFailed();
  } catch (error) {
    const failure = run.failure as { error: unknown } | undefined;
    const first = failure ? failure.error : error;
    run.fail(first);
    throw first;
  } finally {
    run.finished = true;
    removeAbort();
    if (!run.controller.signal.aborted) run.controller.abort(run.failure ? run.failure.error : stoppedReason());
    if (iterator && !mainDone) {
      try {
        await iterator.return?.();
      } catch (error) {
        if (!run.failure) throw error;
      }
    }
  }
}
