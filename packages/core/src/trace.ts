// The hooks a tracing integration (the sdk's `initTracing`) hangs on the run tree. Core records
// nothing itself: it carries an opaque "current call" on every run (inherited by the nested runs
// of parallel, parallelConcat and catchErrors, taken from the async context by a top-level run),
// and lets processors start a child call of it. With no tracing installed every hook is a no-op
// costing one property read.

import { type Context, contextWithRun, Run, runOf, traceEdge } from './context.ts';
import { matchAll, type PartMember } from './engine.ts';

export { matchAll };

import type { Part } from './part.ts';
import { makeProcessor, PARENT_RUN, type PartProcessor, type RunOptions, stagesOf } from './processor.ts';

/** Token counts a call reports (the model processors' `usage`). */
export interface TraceUsage {
  inputTokens: number;
  outputTokens: number;
  totalTokens?: number;
}

/** What a processor tells the tracing when it starts a call of its own (e.g. a model call). */
export interface CallStart {
  op: string;
  /** 'llm' for a model call, 'processor', 'op', ... */
  kind: string;
  /** The parts the call was given, recorded as its inputs. */
  inputs?: readonly Part[];
  attributes?: Record<string, unknown>;
}

/** How a call ended: `ok` (the stream ended), `error` (it threw), `cancelled` (stopped early). */
export interface CallOutcome {
  status: 'ok' | 'error' | 'cancelled';
  error?: unknown;
  /** Added to the call's attributes. */
  attributes?: Record<string, unknown>;
  /** The call's own usage; the tracing sums it into every ancestor. */
  usage?: TraceUsage;
}

/** An open call. `end` records the outcome once; later calls of `end` and `output` are ignored. */
export interface CallHandle {
  /** The opaque value runs carry while this call is open (what `currentCall` returns under it). */
  readonly call: unknown;
  /** Records one output part; the first one sets the call's time to first output. */
  output(part: Part): void;
  end(outcome: CallOutcome): void;
}

/** What a tracing installs with `setTraceHooks`. */
export interface TraceHooks {
  /** The call open in the current async context (an `op`, an OpenTelemetry span), if any. */
  edge(): unknown;
  /** Starts a call whose parent is `parent` (undefined: a root call); undefined when nothing records. */
  start(parent: unknown, info: CallStart): CallHandle | undefined;
}

let hooks: TraceHooks | undefined;
/** Runs made by `withCall`: they hang from a real run and never end themselves. */
const DERIVED = new WeakSet<Run>();

/** Installs (or, with undefined, removes) the hooks of a tracing integration. */
export function setTraceHooks(next: TraceHooks | undefined): void {
  hooks = next;
  traceEdge.current = next ? next.edge : undefined;
}

/** True when a tracing is installed. */
export function tracingActive(): boolean {
  return hooks !== undefined;
}

/** The call the run of `ctx` works for (undefined outside any call or for a foreign context). */
export function currentCall(ctx: Context): unknown {
  return runOf(ctx)?.call;
}

/**
 * Starts a child call of the current call of `ctx` when a tracing is installed; undefined (and
 * nothing else happens) when none is. The caller must `end` it exactly once.
 */
export function startCall(ctx: Context, info: CallStart): CallHandle | undefined {
  return hooks?.start(runOf(ctx)?.call, info);
}

/**
 * A context like `ctx` whose run tree carries `call`: runs started from it with
 * `nestedRunOptions` and the nested runs of parallel/catchErrors are under `call`. `runState` on
 * it is per (run of `ctx`, derived context).
 */
export function withCall(ctx: Context, call: unknown): Context {
  const child = new Run(runOf(ctx));
  child.call = call;
  DERIVED.add(child);
  return contextWithRun(ctx, child);
}

/**
 * Options to run a processor for part of the work of the run of `ctx`: it stops with that run,
 * its reserved parts reach that run's output, and it is under that run's call.
 */
export function nestedRunOptions(ctx: Context): RunOptions {
  return { signal: ctx.signal, [PARENT_RUN]: runOf(ctx) } as RunOptions;
}

/**
 * Calls `fn` once when the run of `ctx` ends or stops (synchronously with the stop, so before a
 * consumer's `break` completes): `failure` holds the first error when it failed, `stopped` is true
 * when its consumer stopped early. Returns a function removing `fn`.
 */
export function onRunEnd(
  ctx: Context,
  fn: (outcome: { failure?: { error: unknown }; stopped: boolean }) => void,
): () => void {
  const run = runOf(ctx);
  if (!run) return () => {};
  let top = run;
  // A derived context's run (withCall) never ends itself: the run it hangs from does.
  while (top.parent && DERIVED.has(top)) top = top.parent;
  return top.controller.onAbort(() => fn({ failure: top.failure, stopped: top.stopRequested }));
}

/**
 * The members of part processor `p` (a chain of part processors has several), for an integration
 * that wraps them; `build` makes a part processor of new members whose `match` stays `match`.
 */
export function partMembersOf(p: PartProcessor): readonly PartMember[] {
  const stage = stagesOf(p)[0];
  return stage?.kind === 'parts' ? stage.members : [];
}

/** A part processor running `members` fused, with `match` as its own `match`. */
export function partProcessorOf(
  members: readonly PartMember[],
  name: string,
  match: (part: Part) => boolean,
): PartProcessor {
  return makeProcessor([{ kind: 'parts', members }], name, match) as PartProcessor;
}
