import { ABANDONED, Fifo, type StopOutcome, stopSource } from '@sluice/streams';
import { type Context, type Run, type Stopper, stoppedReason, subscribeAbort } from './context.ts';
import { toPart } from './normalize.ts';
import { isOwnPart, isPart, isReservedSubstream, type Part, type PartLike } from './part.ts';

/** What a part processor's `fn` may return. */
export type PartResult =
  | AsyncIterable<PartLike>
  | Iterable<PartLike>
  | PartLike
  | undefined
  | void
  | Promise<PartLike | Iterable<PartLike> | undefined | void>;

/** One member of a fused chain of part processors. */
export interface PartMember {
  readonly name: string;
  readonly fn: (part: Part, ctx: Context) => PartResult;
  readonly match: (part: Part) => boolean;
  readonly concurrency: number;
  /**
   * Start `fn` on a part only when the consumer reaches that part's outputs, and pull each output
   * only when the consumer asks for it (no read-ahead).
   */
  readonly lazy?: boolean;
  /** Called once when no more parts will reach this member in this run (see `partProcessor`). */
  readonly onInputEnd?: (ctx: Context) => void;
}

/**
 * An ordered sequence of outputs: final parts, or child nodes expanded in place. The consumer walks
 * the tree depth first, which is exactly the order of nested ordered part processors.
 */
class OutputNode {
  items: (Part | OutputNode | undefined)[] = [];
  index = 0;
  done = false;
  /** Resolves the producer waiting for the consumer to catch up (head node only). */
  room: (() => void) | undefined;
  /**
   * Lazy members: called when the consumer waits at this node: starts the member's call (a node
   * not started yet) or resumes the producer waiting for that demand.
   */
  demand: (() => void) | undefined;
}

/** Outputs of the part at the head that may wait unread before its producer pauses. */
const HEAD_HIGH_WATER_MARK = 64;

interface Slot {
  active: number;
  readonly limit: number;
  /** Parts waiting for a free slot, in arrival order. */
  readonly waiters: Fifo<Waiter>;
}

interface Waiter {
  readonly node: OutputNode;
  readonly p: Part;
  readonly k: number;
}

type Entry = Part | OutputNode | Entry[] | undefined;

/** An iterator returned by a member's `fn`, being read into a node. */
interface Reading {
  readonly iterator: AsyncIterator<unknown>;
  /** A `next()` is in flight. */
  pending: boolean;
  /** The run's stop returned the iterator (see `stopSource`). */
  stopping: Promise<StopOutcome> | undefined;
  /** The loop reading it: settles once the iterator finished or was returned. */
  loop: Promise<void>;
}

const NOT_STOPPED: Promise<StopOutcome> = Promise.resolve(undefined);

/**
 * Runs a fused chain of part processors over `input`. Parts flow through every member by plain
 * function calls (no generator hop per member); a member whose `fn` returns a promise or an async
 * iterable gets a node whose outputs the consumer streams in order. Each member runs at most
 * `concurrency` async calls at once; the reader stays at most `lookahead` parts ahead.
 *
 * With `output`, this stage is the last of the run and also its output loop (reserved parts of
 * every stage, the caller's signal, the run's teardown), with no generator above it.
 *
 * Returns a plain iterator: `return()` stops the stage at once, even while a `next()` is pending
 * (that read ends, done, once the stage has stopped); the input is returned without waiting for it
 * when it is the run's own input blocked in a read (see `stopSource`).
 */
export function runFused(
  members: readonly PartMember[],
  input: AsyncIterable<unknown>,
  run: Run,
  ctx: Context,
  controller: Stopper,
  upstream: Stopper | undefined,
  output?: { readonly signal: AbortSignal | undefined },
): AsyncIterator<Part> {
  const count = members.length;
  // Members that match every part skip the call (the common case on the hot path).
  const matchesAll = members.map((m) => m.match === matchAll);
  const lazyAt = members.map((m) => m.lazy === true);
  const slots: Slot[] = members.map((m) => ({ active: 0, limit: m.concurrency, waiters: new Fifo<Waiter>() }));
  const lookahead = Math.max(64, 2 * Math.max(1, ...members.map((m) => Math.min(m.concurrency, 4096))));
  const root = new OutputNode();
  /** Iterators of async-iterable results being read (returned when the run stops). */
  const running = new Set<Reading>();
  let failure: { error: unknown } | undefined;
  let stopped = false;
  let room: (() => void) | undefined;
  let iterator: AsyncIterator<unknown> | undefined;
  let inputDone = false;
  /** A `next()` of the input is in flight. */
  let inputPending = false;
  /** The node the consumer is reading: the only one whose producer waits for it (no deadlock). */
  let current: OutputNode = root;
  const paused = new Set<OutputNode>();
  // "Input ended" hooks: member k's input has ended once the stage's input has, and every member
  // before k is idle (no call running, waiting for a slot, or waiting for the consumer to start it).
  const endHooks = members.some((m) => m.onInputEnd !== undefined);
  const lazyPending = endHooks ? members.map(() => 0) : [];
  let endsFired = 0;
  const checkEnds = () => {
    if (!inputDone || stopped) return;
    while (endsFired < count) {
      const before = endsFired - 1;
      if (before >= 0) {
        const slot = slots[before]!;
        if (slot.active > 0 || slot.waiters.length > 0 || lazyPending[before]! > 0) return;
      }
      const hook = members[endsFired++]!.onInputEnd;
      if (hook) {
        try {
          hook(ctx);
        } catch (error) {
          fail(error);
          return;
        }
      }
    }
  };

  /** Something changed that the consumer may be waiting for (assigned below, with the walk). */
  let notify: () => void = noop;
  let notifyNow: () => void = noop;
  const fail = (error: unknown) => {
    if (!failure) failure = { error };
    run.fail(error);
    notify();
  };
  const finish = (node: OutputNode) => {
    node.done = true;
    notify();
  };
  const failNode = (node: OutputNode, error: unknown) => {
    if (!stopped) fail(error);
    finish(node);
  };
  /** Frees a slot of member k: hands it to the next waiting part (a loop: sync results cannot recurse). */
  const release = (slot: Slot) => {
    for (;;) {
      const waiter = slot.waiters.shift();
      if (!waiter) {
        slot.active--;
        if (endHooks) checkEnds();
        return;
      }
      if (stopped) {
        finish(waiter.node);
        continue;
      }
      if (call(waiter.node, waiter.p, waiter.k, slot)) return;
    }
  };
  const append = (node: OutputNode, entry: Entry) => {
    if (entry === undefined) return;
    if (Array.isArray(entry)) {
      for (const e of entry) append(node, e);
      return;
    }
    node.items.push(entry);
  };

  /** Sends `p` through members k.. synchronously as far as it can; returns what it produced. */
  const spawn = (p: Part, k: number): Entry => {
    for (;;) {
      if (p.substream !== '' && isReservedSubstream(p.substream)) {
        run.emitSide(p);
        return undefined;
      }
      if (k === count) return p;
      const member = members[k]!;
      if (!matchesAll[k] && !member.match(p)) {
        k++;
        continue;
      }
      if (lazyAt[k]) return onDemand(p, k);
      const slot = slots[k]!;
      if (slot.active >= slot.limit) return deferred(p, k);
      // A synchronous call holds the member's slot only while it runs: only async results count.
      const result = member.fn(p, ctx);
      if (result === p || isOwnPart(result)) {
        p = result as Part;
        k++;
        continue;
      }
      if (result === undefined || result === null) return undefined;
      if (typeof result === 'string' || result instanceof Uint8Array || isPart(result)) {
        p = toPart(result, member.name);
        k++;
        continue;
      }
      if (isAsyncResult(result)) {
        slot.active++;
        const node = new OutputNode();
        settle(node, result, k, slot);
        return node;
      }
      return expand(result, k, member.name);
    }
  };

  /** The children of a synchronous result of member k. */
  const expand = (value: unknown, k: number, name: string): Entry => {
    if (value === undefined || value === null) return undefined;
    if (typeof value === 'string' || value instanceof Uint8Array || isPart(value))
      return spawn(toPart(value, name), k + 1);
    if (typeof (value as Iterable<unknown>)[Symbol.iterator] === 'function') {
      const out: Entry[] = [];
      for (const item of value as Iterable<unknown>) out.push(spawn(toPart(item, name), k + 1));
      return out;
    }
    throw new TypeError(
      `${name}: fn returned ${typeof value}; return a part, a string, bytes, an (async) iterable of them, a promise, or nothing`,
    );
  };

  /**
   * Calls member k on `p` for `node`, with a slot of k held. Returns true when the slot stays held
   * (an async result, freed by `settle`), false when the call finished synchronously.
   */
  const call = (node: OutputNode, p: Part, k: number, slot: Slot): boolean => {
    try {
      const result = members[k]!.fn(p, ctx);
      if (isAsyncResult(result)) {
        settle(node, result, k, slot);
        return true;
      }
      append(node, expand(result, k, members[k]!.name));
    } catch (error) {
      failNode(node, error);
      return false;
    }
    finish(node);
    return false;
  };

  /** Consumes an async result of member k into `node`, then frees the member's slot. */
  const settle = (node: OutputNode, result: PartResult, k: number, slot: Slot): void => {
    const name = members[k]!.name;
    if (typeof (result as PromiseLike<unknown>).then === 'function') {
      // A bare promise cannot be returned, only aborted through ctx.signal: stopping does not wait for it.
      (result as Promise<unknown>).then(
        (value) => {
          if (!stopped) {
            try {
              append(node, expand(value, k, name));
            } catch (error) {
              release(slot);
              failNode(node, error);
              return;
            }
          }
          release(slot);
          finish(node);
        },
        (error: unknown) => {
          release(slot);
          failNode(node, error);
        },
      );
      return;
    }
    // Stopping returns these iterators at once, even while a read is pending (a plain iterator
    // such as streamContent then ends that read), and waits for their loops unless that could hang
    // (see `stopSource`): the `finally` of fn's iterator has then run.
    const lazy = members[k]!.lazy === true;
    let iterator: AsyncIterator<unknown>;
    try {
      iterator = (result as AsyncIterable<unknown>)[Symbol.asyncIterator]();
    } catch (error) {
      release(slot);
      failNode(node, error);
      return;
    }
    /** Appends one output of the iterator; returns a promise when the producer must wait for the consumer. */
    const produce = (item: unknown): Promise<void> | undefined => {
      append(node, spawn(toPart(item, name), k + 1));
      let waiting: Promise<void> | undefined;
      if (!stopped) {
        // Lazy: this output answers the consumer's last demand; pull the next one only when the
        // consumer comes back for more (it calls `demand` when it waits at this node).
        if (lazy) waiting = pause(node, 'demand');
        else if (node === current && node.items.length - node.index >= HEAD_HIGH_WATER_MARK) {
          waiting = pause(node, 'room');
        }
      }
      // After the pause is set up: the consumer's walk may answer it at once.
      notifyNow();
      return waiting;
    };
    const reading: Reading = { iterator, pending: false, stopping: undefined, loop: undefined as never };
    running.add(reading);
    reading.loop = (async () => {
      let done = false;
      try {
        for (;;) {
          let step: IteratorResult<unknown>;
          reading.pending = true;
          try {
            step = await iterator.next();
          } catch (error) {
            // The iterator threw: it has finished, nothing to return.
            done = true;
            throw error;
          } finally {
            reading.pending = false;
          }
          if (step.done) {
            done = true;
            return;
          }
          if (stopped) return;
          const waiting = produce(step.value);
          if (waiting) await waiting;
        }
      } finally {
        running.delete(reading);
        // The run's stop has returned it already (its outcome is the stop's business).
        if (!done && !reading.stopping) await iterator.return?.();
      }
    })();
    reading.loop.then(
      () => {
        release(slot);
        finish(node);
      },
      (error: unknown) => {
        release(slot);
        failNode(node, error);
      },
    );
  };

  /**
   * A part for lazy member k, started only when the consumer waits at its node. Starting in output
   * order is what keeps lazy members deadlock-free: a lazy call that is not at the head pauses after
   * its first output while holding its slot, so a part that arrived early (an upstream member with
   * concurrency finished it first) must not take the slot the part before it needs. Every call
   * holding a slot of k then sits before the consumer, and the consumer only passes a node once it
   * is done, so the slot is free (or about to be) when the consumer gets here.
   */
  const onDemand = (p: Part, k: number): OutputNode => {
    const node = new OutputNode();
    if (endHooks) lazyPending[k]!++;
    node.demand = () => {
      if (endHooks) lazyPending[k]!--;
      if (stopped) return;
      const slot = slots[k]!;
      if (slot.active >= slot.limit) {
        slot.waiters.push({ node, p, k });
        return;
      }
      slot.active++;
      if (!call(node, p, k, slot)) release(slot);
    };
    return node;
  };

  /** Waits until the consumer resolves `node[resolver]` (or the run stops). */
  const pause = async (node: OutputNode, resolver: 'room' | 'demand'): Promise<void> => {
    paused.add(node);
    await new Promise<void>((resolve) => {
      node[resolver] = resolve;
    });
    paused.delete(node);
  };

  /** A part waiting for a free slot of member k. */
  const deferred = (p: Part, k: number): OutputNode => {
    const node = new OutputNode();
    slots[k]!.waiters.push({ node, p, k });
    return node;
  };

  const pump = async () => {
    try {
      iterator = input[Symbol.asyncIterator]();
      while (!stopped) {
        if (root.items.length - root.index >= lookahead) {
          await new Promise<void>((resolve) => {
            room = resolve;
          });
          continue;
        }
        let result: IteratorResult<unknown>;
        inputPending = true;
        try {
          result = await iterator.next();
        } catch (error) {
          inputDone = true;
          throw error;
        } finally {
          inputPending = false;
        }
        if (result.done) {
          inputDone = true;
          if (endHooks) checkEnds();
          break;
        }
        if (stopped) break;
        const value = result.value;
        append(root, spawn(isOwnPart(value) ? value : toPart(value, 'processor input'), 0));
        notifyNow();
      }
    } catch (error) {
      if (!stopped) fail(error);
    } finally {
      root.done = true;
      notify();
    }
  };

  // An abort (caller, another stage's error, the end of the run) must end the walk even while
  // nothing upstream moves; the teardown then returns the input. A consumer's stop ends it quietly.
  const stopOnAbort = (reason: unknown) => {
    if (!failure && !(output && run.stopRequested)) failure = { error: reason };
    notify();
  };
  let removeStopOnAbort: () => void = noop;
  let removeAbort: () => void = noop;
  const stack: OutputNode[] = [root];
  let pumping: Promise<void> | undefined;

  /**
   * The consumer's walk: the next part it can have now, WAIT (nothing yet: a producer calls
   * `notify` when something changes) or END. Throws the run's failure.
   */
  const step = (): Part | typeof WAIT | typeof END => {
    for (;;) {
      if (output) {
        if (run.side.length > 0) return run.side.shift()!;
        if (run.stopRequested && !run.failure) return END;
      }
      if (failure) throw failure.error;
      const node = stack[stack.length - 1]!;
      if (node.index < node.items.length) {
        const entry = node.items[node.index]!;
        node.items[node.index++] = undefined;
        if (node === root) {
          if (root.index > 1024 && root.index * 2 > root.items.length) {
            root.items = root.items.slice(root.index);
            root.index = 0;
          }
          if (room && root.items.length - root.index <= lookahead >> 1) {
            const resolve = room;
            room = undefined;
            resolve();
          }
        }
        if (node.room && node.items.length - node.index < HEAD_HIGH_WATER_MARK >> 1) {
          const resolve = node.room;
          node.room = undefined;
          resolve();
        }
        if (entry instanceof OutputNode) {
          stack.push(entry);
          current = entry;
          continue;
        }
        return entry;
      }
      if (node.done) {
        if (stack.length === 1) {
          if (output) {
            if (run.side.length > 0) return run.side.shift()!;
            run.throwIfFailed();
          }
          return END;
        }
        stack.pop();
        current = stack[stack.length - 1]!;
        continue;
      }
      if (node.demand) {
        const demand = node.demand;
        node.demand = undefined;
        // A lazy call may answer synchronously: look at the node again before waiting.
        demand();
        continue;
      }
      return WAIT;
    }
  };

  // Plain iterator, not a generator: a producer hands a part straight to the consumer's pending
  // next() (no hop through a generator), and return() acts at once even while a next() is pending.
  let started = false;
  let closing: Promise<void> | undefined;
  /** The consumer's pending next(), if any (two variables, no object per read). */
  let resolveNext: ((r: IteratorResult<Part>) => void) | undefined;
  let rejectNext: ((e: unknown) => void) | undefined;
  const waitForNext = (resolve: (r: IteratorResult<Part>) => void, reject: (e: unknown) => void) => {
    resolveNext = resolve;
    rejectNext = reject;
  };
  /** A walk is running: a `notify` from inside it (a lazy call answering at once) only asks for another look. */
  let walking = false;
  let again = false;

  /** Runs the walk; on END or an error, starts the teardown and settles through it. */
  const walk = (): Part | typeof WAIT | Promise<IteratorResult<Part>> => {
    walking = true;
    try {
      for (;;) {
        again = false;
        const r = step();
        if (r === WAIT && again) continue;
        if (r === END) return close(undefined).then(() => DONE);
        return r;
      }
    } catch (error) {
      let first = error;
      if (output) {
        first = run.failure ? run.failure.error : error;
        run.fail(first);
      }
      return close(undefined).then(() => Promise.reject(first));
    } finally {
      walking = false;
    }
  };

  /** Hands the consumer's pending next() what the walk finds now (nothing when it must wait). */
  const deliver = () => {
    const resolve = resolveNext;
    const reject = rejectNext!;
    if (!resolve || closing) return;
    const r = walk();
    if (r === WAIT) return;
    if (resolveNext !== resolve) {
      // The walk stopped the run (a lazy call failed) and its consumer returned this iterator,
      // which answered that read already: what the walk found goes nowhere.
      if (r instanceof Promise) r.catch(noop);
      return;
    }
    resolveNext = rejectNext = undefined;
    if (r instanceof Promise) r.then(resolve, reject);
    else resolve({ done: false, value: r });
  };
  let scheduled = false;
  const deliverScheduled = () => {
    scheduled = false;
    deliver();
  };
  // From anywhere (a slot being handed on, an abort being dispatched): the walk runs in a microtask
  // of its own, never inside the producer's bookkeeping.
  notify = () => {
    if (walking) {
      again = true;
      return;
    }
    if (!resolveNext || closing || scheduled) return;
    scheduled = true;
    queueMicrotask(deliverScheduled);
  };
  /** From the top of a producer's continuation (the input pump, an iterator loop): the walk runs now. */
  notifyNow = () => {
    if (walking) {
      again = true;
      return;
    }
    deliver();
  };

  const start = () => {
    started = true;
    removeStopOnAbort = controller.onAbort(stopOnAbort);
    if (output) {
      removeAbort = subscribeAbort(output.signal, (reason) => run.fail(reason));
      run.onSide = notify;
    }
    pumping = pump();
  };

  /** The run's teardown (once): stops every call and the input, waits for what can be waited for. */
  const close = (_: undefined): Promise<void> => {
    closing ??= teardown();
    return closing;
  };

  const teardown = async (): Promise<void> => {
    // Begin after the current callbacks (a producer that notified, an abort being dispatched).
    await undefined;
    stopped = true;
    removeStopOnAbort();
    if (output) {
      run.finished = true;
      run.onSide = undefined;
      removeAbort();
      if (!run.controller.aborted) run.controller.abort(run.failure ? run.failure.error : stoppedReason());
    }
    if (!controller.aborted) controller.abort(failure ? failure.error : stoppedReason());
    room?.();
    for (const node of paused) {
      node.room?.();
      node.demand?.();
    }
    // Return every iterator of fn now. They are stage code, told to stop by ctx.signal (aborted
    // above): their loops are waited for, so fn's `finally` has run.
    const stopping: Promise<unknown>[] = [];
    for (const reading of running) {
      const outcome = stopSource(reading.iterator, reading.pending, true) ?? NOT_STOPPED;
      reading.stopping = outcome;
      stopping.push(outcome.then(() => reading.loop.catch(noop)));
    }
    for (const slot of slots) {
      for (let waiter = slot.waiters.shift(); waiter; waiter = slot.waiters.shift()) waiter.node.done = true;
    }
    let stopError: { error: unknown } | undefined;
    let inputLeft = false;
    if (!inputDone && iterator) {
      upstream?.abort(stoppedReason());
      // The stage upstream (stage code, just told to stop) is waited for; the run's own input, which
      // knows nothing of the stop, is not while it is blocked in a read (see `stopSource`).
      const outcome = await stopSource(iterator, inputPending, upstream !== undefined);
      if (outcome === ABANDONED) inputLeft = true;
      else if (outcome) stopError = outcome;
    }
    // The pump waits in that read when the input was left behind; it ends, caught, when it settles.
    if (!inputLeft) await pumping;
    await Promise.all(stopping);
    if (stopError && !failure && !run.failure) throw stopError.error;
  };

  const self: AsyncIterator<Part> = {
    next(): Promise<IteratorResult<Part>> {
      if (closing) return closing.then(doneResult, doneResult);
      if (resolveNext) {
        // A second read while one is pending (not from for-await): served after the first.
        const resolve = resolveNext;
        const reject = rejectNext!;
        const previous = new Promise<void>((settled) => {
          resolveNext = (r) => {
            resolve(r);
            settled();
          };
          rejectNext = (e) => {
            reject(e);
            settled();
          };
        });
        return previous.then(() => self.next());
      }
      if (!started) {
        if (output?.signal?.aborted) {
          closing = Promise.resolve();
          return Promise.reject(output.signal.reason);
        }
        start();
      }
      const r = walk();
      if (r === WAIT) {
        // The walk may have stopped the run (a lazy call failed and the consumer returned this iterator).
        const stopping = closing as Promise<void> | undefined;
        if (stopping) return stopping.then(doneResult, doneResult);
        return new Promise<IteratorResult<Part>>(waitForNext);
      }
      if (r instanceof Promise) return r;
      return Promise.resolve({ done: false, value: r });
    },
    async return(): Promise<IteratorResult<Part>> {
      if (!started) {
        closing ??= Promise.resolve();
        return DONE;
      }
      const resolve = resolveNext;
      resolveNext = rejectNext = undefined;
      if (closing) {
        // Already stopping (an error or the end): return once every stage has stopped.
        await closing.catch(noop);
        resolve?.(DONE);
        return DONE;
      }
      await close(undefined).finally(() => resolve?.(DONE));
      return DONE;
    },
  };
  return self;
}

function doneResult(): IteratorReturnResult<undefined> {
  return DONE;
}

const WAIT = Symbol('wait');
const END = Symbol('end');
const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });

function noop(): void {}

/** The default `match` of a part processor. */
export function matchAll(): boolean {
  return true;
}

function isAsyncResult(result: PartResult): boolean {
  return (
    typeof result === 'object' &&
    result !== null &&
    (typeof (result as PromiseLike<unknown>).then === 'function' ||
      typeof (result as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function')
  );
}
