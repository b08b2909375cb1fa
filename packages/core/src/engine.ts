import type { Context, Run } from './context.ts';
import { stoppedReason } from './context.ts';
import { toPart } from './normalize.ts';
import { isPart, isReservedSubstream, type Part, type PartLike } from './part.ts';

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
  /** Pull `fn`'s outputs after the first only when the consumer asks (no read-ahead). */
  readonly lazy?: boolean;
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
  /** Lazy members: the consumer is waiting at this node for its next output. */
  wanted = false;
  /** Lazy members: resolves the producer waiting for that demand. */
  demand: (() => void) | undefined;
}

/** Outputs of the part at the head that may wait unread before its producer pauses. */
const HEAD_HIGH_WATER_MARK = 64;

interface Slot {
  active: number;
  readonly limit: number;
  readonly waiters: (() => void)[];
}

type Entry = Part | OutputNode | Entry[] | undefined;

/**
 * Runs a fused chain of part processors over `input`. Parts flow through every member by plain
 * function calls (no generator hop per member); a member whose `fn` returns a promise or an async
 * iterable gets a node whose outputs the consumer streams in order. Each member runs at most
 * `concurrency` async calls at once; the reader stays at most `lookahead` parts ahead.
 */
export async function* runFused(
  members: readonly PartMember[],
  input: AsyncIterable<unknown>,
  run: Run,
  ctx: Context,
  controller: AbortController,
  upstream: AbortController | undefined,
): AsyncGenerator<Part> {
  const count = members.length;
  const slots: Slot[] = members.map((m) => ({ active: 0, limit: m.concurrency, waiters: [] }));
  const lookahead = Math.max(64, 2 * Math.max(1, ...members.map((m) => Math.min(m.concurrency, 4096))));
  const root = new OutputNode();
  const iterating = new Set<Promise<void>>();
  let failure: { error: unknown } | undefined;
  let stopped = false;
  let wake: (() => void) | undefined;
  let room: (() => void) | undefined;
  let iterator: AsyncIterator<unknown> | undefined;
  let inputDone = false;
  /** The node the consumer is reading: the only one whose producer waits for it (no deadlock). */
  let current: OutputNode = root;
  const paused = new Set<OutputNode>();

  const notify = () => {
    const resolve = wake;
    if (resolve) {
      wake = undefined;
      resolve();
    }
  };
  const fail = (error: unknown) => {
    if (!failure) failure = { error };
    run.fail(error);
    notify();
  };
  const release = (slot: Slot) => {
    const next = slot.waiters.shift();
    if (next) next();
    else slot.active--;
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
      if (!member.match(p)) {
        k++;
        continue;
      }
      const slot = slots[k]!;
      if (slot.active >= slot.limit) return deferred(p, k);
      slot.active++;
      let result: PartResult;
      try {
        result = member.fn(p, ctx);
      } catch (error) {
        release(slot);
        throw error;
      }
      if (result === undefined || result === null) {
        release(slot);
        return undefined;
      }
      if (typeof result === 'string' || result instanceof Uint8Array || isPart(result)) {
        release(slot);
        p = toPart(result, member.name);
        k++;
        continue;
      }
      if (isAsyncResult(result)) {
        const node = new OutputNode();
        track(node, () => settle(node, result, k, slot));
        return node;
      }
      try {
        return expand(result, k, member.name);
      } finally {
        release(slot);
      }
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

  /** Consumes an async result of member k into `node`, then frees the member's slot. */
  const settle = async (node: OutputNode, result: PartResult, k: number, slot: Slot) => {
    const name = members[k]!.name;
    try {
      if (typeof (result as PromiseLike<unknown>).then === 'function') {
        const value = await result;
        if (!stopped) append(node, expand(value, k, name));
      } else {
        // Stopping waits for these loops, so the fn's `finally` has run; a bare promise cannot be
        // returned, only aborted through ctx.signal, so it is not waited for.
        const lazy = members[k]!.lazy === true;
        const loop = (async () => {
          for await (const item of result as AsyncIterable<unknown>) {
            if (stopped) break;
            append(node, spawn(toPart(item, name), k + 1));
            notify();
            if (lazy) {
              // This output answers the consumer's last demand; pull the next one only when the
              // consumer comes back for more (it sets `wanted` while it waits at this node).
              node.wanted = false;
              if (!stopped) {
                paused.add(node);
                await new Promise<void>((resolve) => {
                  node.demand = resolve;
                });
                paused.delete(node);
              }
            } else if (node === current && node.items.length - node.index >= HEAD_HIGH_WATER_MARK && !stopped) {
              paused.add(node);
              await new Promise<void>((resolve) => {
                node.room = resolve;
              });
              paused.delete(node);
            }
          }
        })();
        iterating.add(loop);
        try {
          await loop;
        } finally {
          iterating.delete(loop);
        }
      }
    } finally {
      release(slot);
    }
  };

  /** A part waiting for a free slot of member k. */
  const deferred = (p: Part, k: number): OutputNode => {
    const node = new OutputNode();
    const slot = slots[k]!;
    track(node, async () => {
      await new Promise<void>((resolve) => slot.waiters.push(resolve));
      if (stopped) {
        release(slot);
        return;
      }
      let result: PartResult;
      try {
        result = members[k]!.fn(p, ctx);
      } catch (error) {
        release(slot);
        throw error;
      }
      if (isAsyncResult(result)) {
        await settle(node, result, k, slot);
        return;
      }
      try {
        append(node, expand(result, k, members[k]!.name));
      } finally {
        release(slot);
      }
    });
    return node;
  };

  const track = (node: OutputNode, work: () => Promise<void>) => {
    const task = (async () => {
      try {
        await work();
      } catch (error) {
        if (!stopped) fail(error);
      } finally {
        node.done = true;
        notify();
      }
    })();
    void task;
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
        try {
          result = await iterator.next();
        } catch (error) {
          inputDone = true;
          throw error;
        }
        if (result.done) {
          inputDone = true;
          break;
        }
        if (stopped) break;
        append(root, spawn(toPart(result.value, 'processor input'), 0));
        notify();
      }
    } catch (error) {
      if (!stopped) fail(error);
    } finally {
      root.done = true;
      notify();
    }
  };

  // An abort (caller, another stage's error, the end of the run) must end the walk even while
  // nothing upstream moves; `finally` then returns the input.
  const stopOnAbort = () => {
    if (!failure) failure = { error: controller.signal.reason };
    notify();
  };
  controller.signal.addEventListener('abort', stopOnAbort, { once: true });
  const stack: OutputNode[] = [root];
  const pumping = pump();
  try {
    while (true) {
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
        } else {
          yield entry;
        }
        continue;
      }
      if (node.done) {
        if (stack.length === 1) return;
        stack.pop();
        current = stack[stack.length - 1]!;
        continue;
      }
      node.wanted = true;
      if (node.demand) {
        const demand = node.demand;
        node.demand = undefined;
        demand();
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
  } finally {
    stopped = true;
    controller.signal.removeEventListener('abort', stopOnAbort);
    controller.abort(failure ? failure.error : stoppedReason());
    room?.();
    for (const node of paused) {
      node.room?.();
      node.demand?.();
    }
    for (const slot of slots) for (const resolve of slot.waiters.splice(0)) resolve();
    let stopError: { error: unknown } | undefined;
    if (!inputDone && iterator) {
      upstream?.abort(stoppedReason());
      try {
        await iterator.return?.();
      } catch (error) {
        stopError = { error };
      }
    }
    await pumping;
    await Promise.allSettled([...iterating]);
    if (stopError && !failure) throw stopError.error;
  }
}

function isAsyncResult(result: PartResult): boolean {
  return (
    typeof result === 'object' &&
    result !== null &&
    (typeof (result as PromiseLike<unknown>).then === 'function' ||
      typeof (result as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function')
  );
}
