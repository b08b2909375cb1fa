// traced(p): every run of p is one call. A part processor stays a part processor (it fuses with
// its neighbours): two pass-through members around its own record the inputs and outputs, and its
// members run with a context whose run tree carries the call. Any other processor runs as a
// nested run under the call, its output observed as it streams.

import {
  type Context,
  currentCall,
  matchAll,
  nestedRunOptions,
  onRunEnd,
  type Part,
  type PartMember,
  type PartProcessor,
  type PartStream,
  type Processor,
  partMembersOf,
  partProcessorOf,
  processor,
  runState,
  withCall,
} from '@sluice/core';
import { syncCall } from './context.ts';
import { isAbortError, type LiveCall } from './live-call.ts';
import { runInCall } from './otel-bridge.ts';
import { type Tracing, tracingFor } from './tracing.ts';

export interface TracedOptions {
  /** The call's op name; default the processor's name. */
  name?: string;
  /** Default 'processor'. */
  kind?: string;
  /** Record into this tracing; default the one of the parent call, else the active tracing. */
  tracing?: Tracing;
}

/**
 * Records every run of `p` as one call (child of the call open where the run happens: a traced
 * chain, a `parallel` branch, an `op`). The call starts when the run is first pulled and ends
 * exactly once: `ok` at the end of the stream, `error` with the exception, `cancelled` when the
 * consumer stops (before its `break` completes) or the signal aborts. Output parts are unchanged.
 * With no tracing active, runs are not recorded and cost one check.
 */
export function traced<P extends Processor>(p: P, options: TracedOptions = {}): P {
  const name = options.name ?? p.name;
  const kind = options.kind ?? 'processor';
  if (
    typeof (p as unknown as PartProcessor).match === 'function' &&
    partMembersOf(p as unknown as PartProcessor).length
  ) {
    return tracedParts(p as unknown as PartProcessor, name, kind, options.tracing) as unknown as P;
  }
  return tracedStream(p, name, kind, options.tracing) as P;
}

function outcomeOf(error: unknown, ctx: Context): { status: 'error' | 'cancelled'; error?: unknown } {
  if (isAbortError(error) || (ctx.signal.aborted && ctx.signal.reason === error)) return { status: 'cancelled' };
  return { status: 'error', error };
}

function tracedStream(p: Processor, name: string, kind: string, explicit: Tracing | undefined): Processor {
  return processor(
    (input: PartStream, ctx: Context) => ({
      [Symbol.asyncIterator](): AsyncIterator<Part> {
        let inner: AsyncIterator<Part> | undefined;
        let live: LiveCall | undefined;
        const start = () => {
          const parent = currentCall(ctx);
          const tracing = tracingFor(parent, explicit);
          if (!tracing) {
            inner = p(input, nestedRunOptions(ctx))[Symbol.asyncIterator]();
            return;
          }
          const call = tracing.startCall(parent, { op: name, kind, inputParts: true });
          live = call;
          const recorded: AsyncIterable<Part> = {
            [Symbol.asyncIterator]: () => {
              const it = input[Symbol.asyncIterator]();
              return {
                next: () =>
                  it.next().then((r) => {
                    if (!r.done) call.input(r.value);
                    return r;
                  }),
                return: () => it.return?.() ?? Promise.resolve({ done: true, value: undefined }),
              };
            },
          };
          const options = nestedRunOptions(withCall(ctx, call));
          inner = runInCall(call, () => p(recorded, options)[Symbol.asyncIterator]());
        };
        const onResult = (r: IteratorResult<Part>) => {
          if (!live) return r;
          if (r.done) live.end({ status: 'ok' });
          else live.output(r.value);
          return r;
        };
        const onError = (error: unknown) => {
          live?.end(outcomeOf(error, ctx));
          throw error;
        };
        return {
          next: () => {
            if (!inner) start();
            const it = inner!;
            return (live ? runInCall(live, () => it.next()) : it.next()).then(onResult, onError);
          },
          return: async () => {
            live?.end({ status: 'cancelled' });
            await inner?.return?.();
            return { done: true, value: undefined };
          },
        };
      },
    }),
    { name },
  );
}

interface GroupState {
  started: boolean;
  live: LiveCall | undefined;
  /** The context the members get: the run tree under the call. */
  ctx: Context | undefined;
}

function tracedParts(pp: PartProcessor, name: string, kind: string, explicit: Tracing | undefined): PartProcessor {
  const members = partMembersOf(pp);
  const key = {};
  let lastCtx: Context | undefined;
  let lastState: GroupState | undefined;
  const create = (): GroupState => ({ started: false, live: undefined, ctx: undefined });
  const stateOf = (ctx: Context): GroupState => {
    if (ctx === lastCtx) return lastState!;
    const state = runState(ctx, key, create);
    lastCtx = ctx;
    lastState = state;
    return state;
  };
  const start = (state: GroupState, ctx: Context) => {
    state.started = true;
    const parent = currentCall(ctx);
    const tracing = tracingFor(parent, explicit);
    if (!tracing) return;
    const live = tracing.startCall(parent, { op: name, kind, inputParts: true });
    state.live = live;
    state.ctx = withCall(ctx, live);
    onRunEnd(ctx, ({ failure, stopped }) => {
      if (live.ended) return;
      if (failure && !stopped && !isAbortError(failure.error)) live.end({ status: 'error', error: failure.error });
      else live.end({ status: 'cancelled' });
    });
  };
  const probeIn: PartMember = {
    name: `${name}:in`,
    match: (p) => pp.match(p),
    concurrency: 1,
    fn: (p, ctx) => {
      const state = stateOf(ctx);
      if (!state.started) start(state, ctx);
      state.live?.input(p);
      return p;
    },
    onInputEnd: (ctx) => {
      const state = stateOf(ctx);
      if (!state.started) start(state, ctx);
    },
  };
  // Async functions run in the call's async context (ops they await find it); plain functions
  // only see it while they run (setting a variable costs far less than entering a context).
  const wrapped = members.map((m): PartMember => {
    const fn = m.fn;
    const async = /^Async/.test(fn.constructor?.name ?? '');
    const wrappedFn: PartMember['fn'] = async
      ? (p, ctx) => {
          const state = stateOf(ctx);
          const live = state.live;
          return live ? runInCall(live, fn, p, state.ctx!) : fn(p, ctx);
        }
      : (p, ctx) => {
          const state = stateOf(ctx);
          const live = state.live;
          if (!live) return fn(p, ctx);
          const previous = syncCall.current;
          syncCall.current = live;
          try {
            return fn(p, state.ctx!);
          } finally {
            syncCall.current = previous;
          }
        };
    return {
      ...m,
      fn: wrappedFn,
      ...(m.onInputEnd
        ? {
            onInputEnd: (ctx: Context) => {
              const state = stateOf(ctx);
              m.onInputEnd!(state.ctx ?? ctx);
            },
          }
        : {}),
    };
  });
  const probeOut: PartMember = {
    name: `${name}:out`,
    match: matchAll,
    concurrency: 1,
    fn: (p, ctx) => {
      const live = stateOf(ctx).live;
      if (live) live.output(p);
      return p;
    },
    onInputEnd: (ctx) => {
      const live = stateOf(ctx).live;
      if (live) live.end({ status: 'ok' });
    },
  };
  return partProcessorOf([probeIn, ...wrapped, probeOut], name, (p) => pp.match(p));
}
