import { ABANDONED, markPrompt, stopSource } from '@sluice/streams';
import { type Context, Run, Stopper, stoppedReason, subscribeAbort } from './context.ts';
import { matchAll, type PartMember, type PartResult, runFused } from './engine.ts';
import { Lazy } from './lazy.ts';
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

/** @internal Builds the callable processor object for a list of stages (`match`: of a part stage, default any member's). */
export function makeProcessor(stages: readonly Stage[], name: string, matchOf?: (p: Part) => boolean): Processor {
  const members = stages.length === 1 && stages[0]!.kind === 'parts' ? stages[0]!.members : undefined;
  const call = (input?: ContentLike, options?: RunOptions): PartStream =>
    new PartStream(
      new Lazy(() => {
        const parent = (options as Record<symbol, Run | undefined> | undefined)?.[PARENT_RUN];
        const run = new Run(parent);
        const iterator = runStages(stages, input, options?.signal, run);
        // Stop the run first: every stage's signal aborts at once, before the output stops the
        // stages one by one, so stage code blocked on its signal ends a pending read.
        const close = iterator.return!.bind(iterator);
        iterator.return = (value?: unknown) => {
          run.stop();
          return close(value);
        };
        return markPrompt(iterator);
      }),
    );
  Object.defineProperty(call, 'name', { value: name });
  Object.defineProperty(call, STAGES, { value: stages });
  const pipe = (...next: Processor[]) => chainStages([call as unknown as Processor, ...next]);
  Object.defineProperty(call, 'pipe', { value: pipe });
  if (members) {
    const match = matchOf ?? ((p: Part) => members.some((m) => m.match(p)));
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
     * Nothing runs ahead of the consumer: `fn` is called on a part only when the consumer reaches
     * that part's outputs, and each output of its async iterable is pulled only when the consumer
     * asks for it. Stopping early stops `fn` before its later steps (for example a final commit)
     * run. Parts therefore go through a lazy member one at a time, in input order, whatever its
     * `concurrency`. Default false (calls start as parts arrive, and up to 64 outputs of the head
     * part are read ahead).
     */
    lazy?: boolean;
    /**
     * Called once per run, with the run's context, when no more parts will reach `fn` in that run:
     * the input has ended and every earlier member of the chain is done with its parts. Calls of
     * `fn` still running go on; `ctx.status()` still reaches the output. Not called when the run
     * stops early. Inside `parallel` and `catchErrors`, each part is a run of its own.
     */
    onInputEnd?: (ctx: Context) => void;
  } = {},
): PartProcessor {
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  if (!(concurrency >= 1) || (!Number.isInteger(concurrency) && concurrency !== Number.POSITIVE_INFINITY)) {
    throw new RangeError(`partProcessor: concurrency must be an integer >= 1, got ${String(options.concurrency)}`);
  }
  const name = options.name ?? (fn.name || 'partProcessor');
  const member: PartMember = {
    name,
    fn,
    match: options.match ?? matchAll,
    concurrency,
    lazy: options.lazy ?? false,
    ...(options.onInputEnd ? { onInputEnd: options.onInputEnd } : {}),
  };
  return makeProcessor([{ kind: 'parts', members: [member] }], name) as PartProcessor;
}

function noop(): void {}

/**
 * Runs the stages over `input`: stage k+1 reads stage k's output as it streams. Reserved-substream
 * parts and `ctx.status()` parts reach the output at once. Stopping (consumer break, caller abort,
 * an error anywhere) aborts every stage's signal, returns every stage, and then surfaces the first
 * error (or the caller's abort reason) unchanged. A fused last stage is the output loop itself (no
 * generator hop above it); after a stream stage, `streamOutput` merges in the reserved parts.
 */
function runStages(
  stages: readonly Stage[],
  input: ContentLike | undefined,
  signal: AbortSignal | undefined,
  run: Run,
): AsyncIterator<Part> {
  let upstream: AsyncIterable<unknown> | undefined = input === undefined ? undefined : contentIterable(input);
  let upstreamController: Stopper | undefined;
  // Stopping flows upstream: the run stops the last stage, each stage the one before it. A stage
  // whose input is returned early stops the stages above it only.
  const controllers = stages.map(() => new Stopper());
  run.controller.link(controllers[controllers.length - 1]!);
  for (let k = controllers.length - 1; k > 0; k--) controllers[k]!.link(controllers[k - 1]!);
  for (let k = 0; k < stages.length; k++) {
    const stage = stages[k]!;
    const controller = controllers[k]!;
    if (stage.kind === 'parts') {
      // Each call in flight may listen to ctx.signal: room for all of them (Infinity: no limit).
      const calls = stage.members.reduce((n, m) => n + m.concurrency, 0);
      controller.maxListeners = Number.isFinite(calls) ? calls + 10 : 0;
    }
    const ctx = run.context(controller);
    const source = upstream;
    const above = upstreamController;
    if (stage.kind === 'parts') {
      if (k === stages.length - 1) {
        return runFused(stage.members, source ?? EMPTY, run, ctx, controller, above, { signal });
      }
      // Its pending next() ends as soon as its stage is stopped, which its reader does first.
      upstream = new Lazy(() => markPrompt(runFused(stage.members, source ?? EMPTY, run, ctx, controller, above)));
    } else {
      const stageInput =
        source === undefined && stage.acceptsNoInput
          ? undefined
          : new PartStream(checkedInput(source ?? EMPTY, run, above, stage.name, controller));
      upstream = new Lazy(() => stage.run(stageInput, ctx)[Symbol.asyncIterator]());
    }
    upstreamController = controller;
  }
  const last = stages[stages.length - 1] as { name: string };
  return streamOutput(run, upstream!, signal, last.name);
}

const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });

/**
 * The output of a run whose last stage is a stream stage: its parts, with the reserved parts of
 * every stage merged in as soon as they are emitted. A plain iterator, not a generator: one promise
 * per part, and `return()` acts at once even while a `next()` is pending.
 */
function streamOutput(
  run: Run,
  upstream: AsyncIterable<unknown>,
  signal: AbortSignal | undefined,
  outputName: string,
): AsyncIterator<Part> {
  type Result = IteratorResult<Part> | Promise<IteratorResult<Part>>;
  let iterator: AsyncIterator<unknown> | undefined;
  let removeAbort: () => void = noop;
  /** The main iterator's `next()` is in flight (its handlers are attached once). */
  let pending = false;
  /** A main result that arrived while no `next()` call was waiting (a side part took that call). */
  let ready: { result: IteratorResult<unknown> } | { error: unknown } | undefined;
  /** The resolver of the `next()` call waiting for the main result or a side part. */
  let waiting: ((result: Result) => void) | undefined;
  let started = false;
  let finished = false;
  let mainDone = false;
  let tornDown: Promise<void> | undefined;

  const teardown = (): Promise<void> => {
    tornDown ??= (async () => {
      run.finished = true;
      run.onSide = undefined;
      removeAbort();
      if (!run.controller.aborted) run.controller.abort(run.failure ? run.failure.error : stoppedReason());
      if (iterator && !mainDone) {
        mainDone = true;
        // Stage code, told to stop by its signal (aborted above): waited for, even with a read pending.
        const outcome = await stopSource(iterator, pending, true);
        if (outcome !== undefined && outcome !== ABANDONED && !run.failure) throw outcome.error;
      }
    })();
    return tornDown;
  };
  const fail = async (error: unknown): Promise<never> => {
    const first = run.failure ? run.failure.error : error;
    run.fail(first);
    finished = true;
    await teardown();
    throw first;
  };
  const deliver = (result: IteratorResult<unknown>): Result => {
    if (result.done) {
      mainDone = true;
      return next();
    }
    const value = result.value;
    if (isPlainPart(value)) return result as IteratorResult<Part>;
    try {
      return { done: false, value: toPart(value, outputName) };
    } catch (error) {
      return fail(error);
    }
  };
  const take = (): ((result: Result) => void) | undefined => {
    const resolve = waiting;
    waiting = undefined;
    run.onSide = undefined;
    return resolve;
  };
  const onResult = (result: IteratorResult<unknown>) => {
    pending = false;
    const resolve = take();
    if (resolve) resolve(deliver(result));
    else ready = { result };
  };
  const onError = (error: unknown) => {
    pending = false;
    mainDone = true;
    const resolve = take();
    if (resolve) resolve(fail(error));
    else ready = { error };
  };
  const onSide = () => take()?.(next());
  const wait = (resolve: (result: Result) => void) => {
    // Starting the main read may have run stages synchronously that emitted a side part.
    if (run.side.length > 0 || run.failure || run.stopRequested) {
      resolve(next());
      return;
    }
    waiting = resolve;
    run.onSide = onSide;
  };
  const next = (): Promise<IteratorResult<Part>> => {
    if (finished) return Promise.resolve(DONE);
    if (!started) {
      started = true;
      if (signal?.aborted) {
        finished = true;
        run.finished = true;
        return Promise.reject(signal.reason);
      }
      removeAbort = subscribeAbort(signal, (reason) => run.fail(reason));
      try {
        iterator = upstream[Symbol.asyncIterator]();
      } catch (error) {
        mainDone = true;
        return fail(error);
      }
    }
    if (run.side.length > 0) return Promise.resolve({ done: false, value: run.side.shift()! });
    if (run.failure) return fail(run.failure.error);
    if (run.stopRequested) {
      finished = true;
      return teardown().then(() => DONE);
    }
    if (ready) {
      const r = ready;
      ready = undefined;
      return 'error' in r ? fail(r.error) : Promise.resolve(deliver(r.result));
    }
    if (mainDone) {
      finished = true;
      return teardown().then(() => DONE);
    }
    if (!pending) {
      pending = true;
      try {
        iterator!.next().then(onResult, onError);
      } catch (error) {
        pending = false;
        mainDone = true;
        return fail(error);
      }
    }
    return new Promise<IteratorResult<Part>>(wait);
  };
  return markPrompt({
    next,
    return: async (): Promise<IteratorResult<Part>> => {
      if (!finished) {
        finished = true;
        take()?.(DONE);
        if (started) await teardown();
        else run.finished = true;
      } else if (tornDown) {
        // Already stopping (an error or an abort ended the run): return once every stage has stopped.
        await tornDown.catch(noop);
      }
      return DONE;
    },
  });
}
