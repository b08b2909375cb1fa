// Property test of the fused engine and its composition with stream stages: random chains of part
// processors (concurrency, lazy, match, sync/promise/async-iterable results that finish in a
// random order), `parallel` pairs and stream stages, over random inputs, read to the end or stopped after a few
// parts. Every run must finish (no deadlock), give exactly what a plain sequential reading of the
// chain gives (in order), and leave no generator call running once the consumer has stopped.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  chain,
  type Part,
  type PartProcessor,
  type PartStream,
  parallel,
  partProcessor,
  processor,
  textPart,
} from '../src/index.ts';

/** How a member answers: 'sync' returns outputs at once, 'promise' after some ticks, 'iterable' yields them with ticks between. */
type Kind = 'sync' | 'promise' | 'iterable';

interface MemberSpec {
  readonly kind: Kind | 'stream';
  readonly concurrency: number;
  readonly lazy: boolean;
  /** Parts whose number is divisible by this go through the member; others pass by. */
  readonly every: number;
  /** Outputs per input part (0 drops it). */
  readonly fanout: number;
  /** The input number on which this member throws (after its first output, for iterables and streams). */
  readonly failOn?: number;
  /** `parallel` of these two part processors instead of this member (its own fields unused). */
  readonly pair?: readonly [MemberSpec, MemberSpec];
}

const memberSpec: fc.Arbitrary<MemberSpec> = fc.record({
  kind: fc.constantFrom<Kind | 'stream'>('sync', 'promise', 'iterable', 'stream'),
  concurrency: fc.integer({ min: 1, max: 3 }),
  lazy: fc.boolean(),
  every: fc.integer({ min: 1, max: 3 }),
  fanout: fc.integer({ min: 0, max: 3 }),
});

const partSpec = memberSpec.filter((spec) => spec.kind !== 'stream');
/** A member, or now and then a `parallel` of two part processors. */
const anyMember: fc.Arbitrary<MemberSpec> = fc.oneof(
  { weight: 4, arbitrary: memberSpec },
  { weight: 1, arbitrary: fc.tuple(partSpec, partSpec).map((pair) => ({ ...pair[0], pair })) },
);

/** Macrotask ticks a call waits: a hash of member, part and step, so runs finish in a scrambled order. */
function ticksOf(seed: number, m: number, text: string, step: number): number {
  let h = seed ^ (m * 0x9e3779b1);
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  h = Math.imul(h ^ step, 0x85ebca6b);
  return (h >>> 0) % 4;
}

async function ticks(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
}

/** The number a part's text starts with (parts are named `n`, outputs `n.i`, `n.i.j`, ...). */
const numberOf = (text: string) => Number(text.split('.')[0]);

/** What member `m` makes of one part: its outputs' texts. */
function outputsOf(spec: MemberSpec, m: number, text: string): string[] {
  return Array.from({ length: spec.fanout }, (_, i) => `${text}.${m}${i}`);
}

/** The chain's output, read plainly: each part through each member in turn. */
function reference(specs: readonly MemberSpec[], inputs: readonly string[]): string[] {
  let texts = [...inputs];
  for (const [m, spec] of specs.entries()) {
    texts = texts.flatMap((t) => {
      if (spec.pair) {
        // parallel(p, q): p's outputs then q's; a part neither takes passes through.
        const [p, q] = spec.pair;
        const taken = [p, q].map((sub) => numberOf(t) % sub.every === 0);
        if (!taken[0] && !taken[1]) return [t];
        return [...(taken[0] ? outputsOf(p, pairId(m, 0), t) : []), ...(taken[1] ? outputsOf(q, pairId(m, 1), t) : [])];
      }
      return numberOf(t) % spec.every === 0 ? outputsOf(spec, m, t) : [t];
    });
  }
  return texts;
}

/** The id (in output names) of the `i`th processor of member m's `parallel`. */
const pairId = (m: number, i: number) => 10 * (m + 1) + i;

interface Live {
  running: number;
}

/** The error member `m` throws for `text` (one object per member, so the test can check it is the same). */
const failures = new Map<number, Error>();
function failure(m: number): Error {
  let error = failures.get(m);
  if (!error) failures.set(m, (error = new Error(`member ${m} failed`)));
  return error;
}

function build(specs: readonly MemberSpec[], seed: number, live: Live) {
  return specs.map((spec, m) =>
    spec.pair
      ? parallel(...spec.pair.map((sub, i) => member(sub, pairId(m, i), seed, live) as PartProcessor))
      : member(spec, m, seed, live),
  );
}

function member(spec: MemberSpec, m: number, seed: number, live: Live) {
  {
    const matches = (p: Part) => numberOf(p.text ?? '') % spec.every === 0;
    const fails = (text: string, i: number) => i === Math.min(1, spec.fanout) && numberOf(text) === spec.failOn;
    if (spec.kind === 'stream') {
      return processor(
        async function* stream(input: PartStream) {
          for await (const p of input) {
            if (!matches(p)) {
              yield p;
              continue;
            }
            const outs = outputsOf(spec, m, p.text ?? '');
            for (let i = 0; i <= outs.length; i++) {
              await ticks(ticksOf(seed, m, p.text ?? '', i));
              if (fails(p.text ?? '', i)) throw failure(m);
              if (i < outs.length) yield textPart(outs[i]!);
            }
          }
        },
        { name: `stream${m}` },
      );
    }
    const options = { name: `m${m}`, match: matches, concurrency: spec.concurrency, lazy: spec.lazy };
    if (spec.kind === 'sync') {
      return partProcessor((p: Part) => {
        if (fails(p.text ?? '', Math.min(1, spec.fanout))) throw failure(m);
        return outputsOf(spec, m, p.text ?? '');
      }, options);
    }
    if (spec.kind === 'promise') {
      // A bare promise cannot be stopped (only told through ctx.signal), so it is not counted in `live`.
      return partProcessor(async (p: Part) => {
        await ticks(ticksOf(seed, m, p.text ?? '', 0));
        if (fails(p.text ?? '', Math.min(1, spec.fanout))) throw failure(m);
        return outputsOf(spec, m, p.text ?? '');
      }, options);
    }
    return partProcessor(async function* (p: Part) {
      live.running++;
      try {
        const outs = outputsOf(spec, m, p.text ?? '');
        for (let i = 0; i <= outs.length; i++) {
          await ticks(ticksOf(seed, m, p.text ?? '', i));
          if (fails(p.text ?? '', i)) throw failure(m);
          if (i < outs.length) yield outs[i]!;
        }
      } finally {
        live.running--;
      }
    }, options);
  }
}

/** Reads `stream` (at most `limit` parts), failing instead of hanging when it makes no progress for many ticks. */
async function readAll(stream: PartStream, limit: number): Promise<string[]> {
  const iterator = stream[Symbol.asyncIterator]();
  const out: string[] = [];
  try {
    while (out.length < limit) {
      let idle = 0;
      let settled = false;
      const next = iterator.next().finally(() => {
        settled = true;
      });
      while (!settled) {
        if (++idle > 2000) throw new Error(`no progress after ${out.length} parts: ${out.join(' ')}`);
        await new Promise((resolve) => setImmediate(resolve));
      }
      const result = await next;
      if (result.done) break;
      out.push(result.value.text ?? '');
    }
  } finally {
    await iterator.return?.();
  }
  return out;
}

describe('fused engine (property)', () => {
  it('random chains finish, keep the sequential order, and stop every call when the consumer stops', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(anyMember, { minLength: 1, maxLength: 4 }),
        fc.integer({ min: 0, max: 12 }),
        fc.integer(),
        fc.option(fc.integer({ min: 0, max: 6 }), { nil: undefined }),
        async (specs, count, seed, stopAfter) => {
          const inputs = Array.from({ length: count }, (_, i) => String(i));
          const live: Live = { running: 0 };
          const run = chain(...build(specs, seed, live));
          const expected = reference(specs, inputs);
          const limit = stopAfter ?? Number.POSITIVE_INFINITY;
          const out = await readAll(run(inputs), limit);
          expect(out).toEqual(expected.slice(0, limit));
          // Stopping returns only after every call's `finally` has run.
          expect(live.running).toBe(0);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('an error in any member ends the run with that same error, after a prefix of the outputs, with every call stopped', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(memberSpec, { minLength: 1, maxLength: 4 }),
        fc.integer({ min: 1, max: 10 }),
        fc.integer(),
        fc.nat(),
        fc.nat(),
        async (specs, count, seed, failing, failOn) => {
          const m = failing % specs.length;
          const n = failOn % count;
          const withFailure = specs.map((spec, i) => (i === m ? { ...spec, every: 1, failOn: n } : spec));
          const inputs = Array.from({ length: count }, (_, i) => String(i));
          const live: Live = { running: 0 };
          const run = chain(...build(withFailure, seed, live));
          const expected = reference(withFailure, inputs);
          const out: string[] = [];
          let caught: unknown;
          try {
            for await (const p of run(inputs)) out.push(p.text ?? '');
          } catch (error) {
            caught = error;
          }
          // The failing part reaches member m unless an earlier member dropped it.
          const reached = reference(withFailure.slice(0, m), [String(n)]).length > 0;
          if (reached) expect(caught).toBe(failure(m));
          else expect(caught).toBeUndefined();
          expect(out).toEqual(expected.slice(0, out.length));
          expect(live.running).toBe(0);
        },
      ),
      { numRuns: 500 },
    );
  });
});
