// Processors that start runs of other processors per part (parallel, parallelConcat, catchErrors)
// keep those runs' status parts out of band and their members' concurrency.
import { describe, expect, it } from 'vitest';
import { catchErrors, chain, parallel, parallelConcat, partProcessor, processor } from '../src/index.ts';

describe('nested runs', () => {
  it('a status part from inside parallel reaches the consumer before the slow sibling finishes', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const slow = partProcessor(async (p) => {
      await gate;
      return p;
    });
    const reporter = partProcessor((p, ctx) => {
      ctx.status('reporter saw a part');
      return p;
    });
    const iterator = parallel(slow, reporter)(['a'])[Symbol.asyncIterator]();
    const first = await iterator.next();
    expect(first.value).toMatchObject({ substream: 'status', text: 'reporter saw a part' });
    release();
    const rest: string[] = [];
    for (let r = await iterator.next(); !r.done; r = await iterator.next()) rest.push(r.value.text!);
    expect(rest).toEqual(['a', 'a']);
  });

  it('a status part from the second processor of parallelConcat is not held behind the first', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const first = processor(async function* (input) {
      await gate;
      yield* input;
    });
    const second = processor(async function* (input, ctx) {
      ctx.status('second started');
      yield* input;
    });
    const iterator = parallelConcat(first, second)(['x'])[Symbol.asyncIterator]();
    expect((await iterator.next()).value).toMatchObject({ substream: 'status', text: 'second started' });
    release();
    const rest: string[] = [];
    for (let r = await iterator.next(); !r.done; r = await iterator.next()) rest.push(r.value.text!);
    expect(rest).toEqual(['x', 'x']);
  });

  it('parallelConcat handles long inputs (no deadlock between the branches)', async () => {
    const count = processor(async function* (input) {
      let n = 0;
      for await (const _ of input) n++;
      yield `n=${n}`;
    });
    const echo = partProcessor((p) => p);
    const input = Array.from({ length: 2000 }, (_, i) => String(i));
    const out = await parallelConcat(echo, count, echo)(input).gather();
    expect(out).toHaveLength(4001);
    expect(out[2000]!.text).toBe('n=2000');
  });

  function counted(concurrency: number) {
    const state = { active: 0, peak: 0 };
    const p = partProcessor(
      async (part) => {
        state.active++;
        state.peak = Math.max(state.peak, state.active);
        await new Promise((resolve) => setTimeout(resolve, 2));
        state.active--;
        return part;
      },
      { concurrency },
    );
    return { p, state };
  }

  it("parallel keeps each processor's own concurrency across parts", async () => {
    const one = counted(1);
    const other = counted(8);
    await parallel(one.p, other.p)(Array.from({ length: 20 }, (_, i) => String(i))).gather();
    expect(one.state.peak).toBe(1);
    expect(other.state.peak).toBeGreaterThan(1);
  });

  it('catchErrors of a fused chain keeps fusion and each member’s concurrency', async () => {
    const a = counted(1);
    const b = counted(8);
    const out = await catchErrors(chain(a.p, b.p))(Array.from({ length: 10 }, (_, i) => String(i))).gather();
    expect(out.map((p) => p.text)).toEqual(Array.from({ length: 10 }, (_, i) => String(i)));
    expect(a.state.peak).toBe(1);
  });

  it('catchErrors of a chain: the exception part passes the later members untouched', async () => {
    const flaky = partProcessor((p) => {
      if (p.text === 'b') throw new Error('no b');
      return p;
    });
    const upper = partProcessor((p) => p.text!.toUpperCase());
    expect((await catchErrors(chain(flaky, upper))(['a', 'b', 'c']).gather()).map((p) => p.text)).toEqual([
      'A',
      'Error: no b',
      'C',
    ]);
  });
});
