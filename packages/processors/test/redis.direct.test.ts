import { nestedRunOptions, type Part, part, partProcessor, processor, runState, Stopper } from '@sluice/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { directRunOf, PART_ENDED, probeRunClass } from '../src/redis/direct.ts';

/** Runs one part through the direct runner of `p`; returns its outputs as "substream:text". */
async function runOne(p: ReturnType<typeof partProcessor>, input: Part, stop = new Stopper()): Promise<string[]> {
  const direct = directRunOf(p);
  expect(direct).toBeDefined();
  const out: string[] = [];
  await direct!(input, stop, { emit: (o) => out.push(`${o.substream}:${o.text}`) });
  return out;
}

describe("serve's direct path (one part member, no run per part)", () => {
  beforeAll(() => probeRunClass());

  it('emits outputs, status, debug and nested runs’ reserved parts in order; non-matching parts pass through', async () => {
    const inner = processor(async function* (_input, ctx) {
      ctx.status('inner');
      yield 'ignored';
    });
    const p = partProcessor(
      async function* (input, ctx) {
        ctx.status('start');
        yield `${input.text}-1`;
        for await (const _ of inner([], nestedRunOptions(ctx))) {
          // only its status matters here
        }
        ctx.debug('mid');
        yield `${input.text}-2`;
      },
      { match: (x) => x.text !== 'skip' },
    );
    expect(await runOne(p, part('a'))).toEqual(['status:start', ':a-1', 'status:inner', 'debug:mid', ':a-2']);
    expect(await runOne(p, part('skip'))).toEqual([':skip']);
    // Sync results: a part, an iterable, nothing.
    expect(
      await runOne(
        partProcessor((x) => [x, 'b']),
        part('a'),
      ),
    ).toEqual([':a', ':b']);
    expect(
      await runOne(
        partProcessor(() => undefined),
        part('a'),
      ),
    ).toEqual([]);
  });

  it('gives each part a run of its own (runState) and rejects with the error fn threw', async () => {
    const key = {};
    const p = partProcessor((x, ctx) => {
      const seen = runState(ctx, key, () => ({ n: 0 }));
      seen.n++;
      return `${x.text}:${seen.n}`;
    });
    expect(await runOne(p, part('a'))).toEqual([':a:1']);
    expect(await runOne(p, part('b'))).toEqual([':b:1']);
    const failing = partProcessor(async () => {
      throw new Error('boom');
    });
    await expect(runOne(failing, part('a'))).rejects.toThrow('boom');
  });

  it('an abort stops the outputs and returns the iterator (its finally runs); ctx.signal sees the abort', async () => {
    const stop = new Stopper();
    let sawAbort: unknown;
    let finallyRan = false;
    const p = partProcessor(async function* (_x, ctx) {
      try {
        yield 'first';
        await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
        sawAbort = ctx.signal.reason;
        yield 'never';
      } finally {
        finallyRan = true;
      }
    });
    const direct = directRunOf(p)!;
    const out: string[] = [];
    const done = direct(part('a'), stop, {
      emit: (o) => {
        out.push(o.text!);
        if (o.text === 'first') queueMicrotask(() => stop.abort(PART_ENDED));
      },
    });
    await done;
    expect(out).toEqual(['first']);
    expect(sawAbort).toBe(PART_ENDED);
    expect(finallyRan).toBe(true);
  });

  it('a chain is not taken by the direct path', () => {
    expect(directRunOf(partProcessor((x) => x).pipe(partProcessor((x) => x)))).toBeUndefined();
    expect(directRunOf(partProcessor((x) => x, { lazy: true }))).toBeUndefined();
  });
});
