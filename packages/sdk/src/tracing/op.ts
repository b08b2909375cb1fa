// op(fn): every call of fn is a call in the trace, child of the call open where it is made (an
// op awaiting it, a processor's fn, a traced run), and parent of the calls it makes in turn.

import { isAbortError, type LiveCall } from './live-call.ts';
import { runInCall } from './otel-bridge.ts';
import { edgeCall, type Tracing, tracingFor } from './tracing.ts';

export interface OpOptions {
  /** The op name; default the function's name. */
  name?: string;
  /** Names each call from its inputs (the arguments by parameter name, else arg0, arg1, ...). */
  callDisplayName?: (inputs: Record<string, unknown>) => string;
  tracing?: Tracing;
}

/**
 * Wraps `fn` so that each call is recorded: its arguments by parameter name, its result (or the
 * values an async generator yields), the time to its first output and its exception. A function
 * returning a promise is one call from the call to the settlement; an async generator function is
 * one call from the first `next()` until the generator finishes, throws or is returned (`cancelled`).
 * Work started inside (awaited code, pipelines, model calls) is under the call. The result is
 * returned unchanged; with no tracing active, `fn` is called as it is.
 */
export function op<F extends (...args: never[]) => Promise<unknown> | AsyncIterable<unknown>>(
  fn: F,
  options: OpOptions = {},
): F {
  if (typeof fn !== 'function') throw new TypeError('op: fn must be a function');
  const name = options.name ?? (fn.name || 'op');
  const params = parameterNames(fn);
  const generator = fn.constructor?.name === 'AsyncGeneratorFunction';
  const target = fn as unknown as (...a: unknown[]) => unknown;
  const wrapper = function (this: unknown, ...args: unknown[]): unknown {
    const parent = edgeCall();
    const tracing = tracingFor(parent, options.tracing);
    if (!tracing) return target.apply(this, args);
    const inputs: Record<string, unknown> = {};
    args.forEach((arg, i) => {
      inputs[params[i] ?? `arg${i}`] = arg;
    });
    let displayName: string | undefined;
    if (options.callDisplayName) {
      try {
        displayName = String(options.callDisplayName(inputs));
      } catch {
        // A naming failure is not the program's.
      }
    }
    const begin = () => tracing.startCall(parent, { op: name, kind: 'op', inputValue: { value: inputs }, displayName });
    const invoke = (live: LiveCall) => runInCall(live, () => target.apply(this, args));
    if (generator) {
      return observe(() => {
        const live = begin();
        return [live, (invoke(live) as AsyncIterable<unknown>)[Symbol.asyncIterator]()];
      });
    }
    const live = begin();
    let result: unknown;
    try {
      result = invoke(live);
    } catch (error) {
      live.end(isAbortError(error) ? { status: 'cancelled' } : { status: 'error', error });
      throw error;
    }
    if (result && typeof (result as PromiseLike<unknown>).then === 'function') {
      return (result as Promise<unknown>).then(
        (value) => {
          live.outputValue(value);
          live.end({ status: 'ok' });
          return value;
        },
        (error: unknown) => {
          live.end(isAbortError(error) ? { status: 'cancelled' } : { status: 'error', error });
          throw error;
        },
      );
    }
    if (result && typeof (result as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function') {
      const it = (result as AsyncIterable<unknown>)[Symbol.asyncIterator]();
      return observe(() => [live, it]);
    }
    live.outputValue(result);
    live.end({ status: 'ok' });
    return result;
  };
  Object.defineProperty(wrapper, 'name', { value: name });
  return wrapper as unknown as F;
}

/** An async iterator (and iterable) over the one `open()` gives, recording into its call. */
function observe(open: () => [LiveCall, AsyncIterator<unknown>]): AsyncIterableIterator<unknown> {
  let opened: [LiveCall, AsyncIterator<unknown>] | undefined;
  const fail = (live: LiveCall) => (error: unknown) => {
    live.end(isAbortError(error) ? { status: 'cancelled' } : { status: 'error', error });
    throw error;
  };
  const self: AsyncIterableIterator<unknown> = {
    next(...value: [] | [unknown]) {
      opened ??= open();
      const [live, it] = opened;
      return runInCall(live, () => it.next(...value)).then((r) => {
        if (r.done) live.end({ status: 'ok' });
        else live.outputValue(r.value, true);
        return r;
      }, fail(live));
    },
    async return(value?: unknown) {
      if (!opened) return { done: true, value };
      const [live, it] = opened;
      live.end({ status: 'cancelled' });
      return (await it.return?.(value)) ?? { done: true, value };
    },
    async throw(error?: unknown) {
      opened ??= open();
      const [live, it] = opened;
      if (!it.throw) {
        live.end({ status: 'error', error });
        throw error;
      }
      return it.throw(error).then((r) => {
        if (r.done) live.end({ status: 'ok' });
        return r;
      }, fail(live));
    },
    [Symbol.asyncIterator]() {
      return self;
    },
  };
  return self;
}

/** The parameter names of `fn` read from its source; undefined for a destructured one. */
export function parameterNames(fn: (...args: never[]) => unknown): (string | undefined)[] {
  let source: string;
  try {
    source = Function.prototype.toString.call(fn);
  } catch {
    return [];
  }
  const arrow = /^(?:async\s+)?([A-Za-z_$][\w$]*)\s*=>/.exec(source);
  if (arrow) return [arrow[1]];
  const open = source.indexOf('(');
  if (open < 0) return [];
  let depth = 0;
  let current = '';
  const out: string[] = [];
  for (let i = open + 1; i < source.length; i++) {
    const c = source[i]!;
    if (c === '(' || c === '{' || c === '[') depth++;
    if (c === ')' || c === '}' || c === ']') {
      if (depth === 0) {
        out.push(current);
        break;
      }
      depth--;
    }
    if (c === ',' && depth === 0) {
      out.push(current);
      current = '';
    } else current += c;
  }
  return out
    .map((p) => p.replace(/\/\*.*?\*\//g, '').trim())
    .filter((p, i, all) => p !== '' || i < all.length - 1)
    .map((p) => {
      const m = /^(?:\.\.\.)?([A-Za-z_$][\w$]*)/.exec(p);
      return m ? m[1] : undefined;
    });
}
