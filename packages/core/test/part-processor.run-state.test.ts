import { streamContent } from '@sluice/streams';
import { describe, expect, it } from 'vitest';
import { type Context, catchErrors, chain, type Part, partProcessor, processor, runState } from '../src/index.ts';

/** A part processor counting its parts per run and reporting the count when its input ends. */
function counter(log: string[], options: { concurrency?: number; lazy?: boolean } = {}) {
  const key = {};
  const state = (ctx: Context) => runState(ctx, key, () => ({ parts: 0 }));
  return partProcessor(
    async (part: Part, ctx: Context) => {
      state(ctx).parts++;
      await Promise.resolve();
      return part;
    },
    {
      name: 'counter',
      ...options,
      onInputEnd: (ctx) => {
        log.push(`end after ${state(ctx).parts}`);
        ctx.status(`counted ${state(ctx).parts}`);
      },
    },
  );
}

describe('per-run state and the input-ended hook', () => {
  it('the direct call and the chained call see the same end, after every part reached fn', async () => {
    const direct: string[] = [];
    const chained: string[] = [];
    const out1 = await counter(direct)(['a', 'b', 'c']).gather();
    const out2 = await chain(counter(chained))(['a', 'b', 'c']).gather();
    expect(direct).toEqual(['end after 3']);
    expect(chained).toEqual(['end after 3']);
    expect(out1.map((p) => p.text)).toEqual(out2.map((p) => p.text));
    expect(out1.find((p) => p.substream === 'status')?.text).toBe('counted 3');
  });

  it('waits for earlier members of the chain that are still producing', async () => {
    const log: string[] = [];
    const slowSplitter = partProcessor(
      async function* (part: Part) {
        for await (const piece of streamContent([`${part.text}1`, `${part.text}2`], { delayMs: 5 })) yield piece;
      },
      { name: 'splitter', concurrency: 4 },
    );
    const parts = await chain(slowSplitter, counter(log, { concurrency: 2 }))(['a', 'b']).gather();
    expect(log).toEqual(['end after 4']);
    expect(parts.filter((p) => p.substream === '').map((p) => p.text)).toEqual(['a1', 'a2', 'b1', 'b2']);
  });

  it('waits for parts queued behind lazy members and for a stream stage upstream', async () => {
    const log: string[] = [];
    const upstream = processor(async function* (input) {
      for await (const p of input) yield p;
      yield 'late';
    });
    const lazyEcho = partProcessor(async (p: Part) => p, { name: 'lazy', lazy: true });
    await chain(upstream, lazyEcho, counter(log))(['x', 'y']).gather();
    expect(log).toEqual(['end after 3']);
  });

  it('keeps runs apart, and is not called when the run stops early', async () => {
    const log: string[] = [];
    const p = counter(log);
    const [a, b] = await Promise.all([p(['1', '2']).gather(), p(['3']).gather()]);
    expect(a.length + b.length).toBe(5);
    expect(log.sort()).toEqual(['end after 1', 'end after 2']);
    log.length = 0;
    for await (const _ of p(streamContent(['1', '2', '3'], { delayMs: 1 }))) break;
    expect(log).toEqual([]);
  });

  it('an error thrown by the hook fails the run, and catchErrors keeps it as a part', async () => {
    const boom = new Error('boom');
    const failing = partProcessor((p: Part) => p, {
      onInputEnd: () => {
        throw boom;
      },
    });
    await expect(failing(['a']).gather()).rejects.toBe(boom);
    const parts = await catchErrors(
      processor(async function* (input, ctx) {
        yield* failing(input, { signal: ctx.signal });
      }),
    )(['a']).gather();
    expect(parts.at(-1)?.text).toContain('boom');
  });

  it('runState refuses a context that no run made', () => {
    const fake = { signal: new AbortController().signal, status() {}, debug() {} };
    expect(() => runState(fake, {}, () => 1)).toThrow(TypeError);
  });
});
