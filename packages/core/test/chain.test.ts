import { describe, expect, it } from 'vitest';
import { chain, type PartProcessor, partProcessor, processor, textPart } from '../src/index.ts';

describe('chain', () => {
  it('streams: b sees a’s first output before a finishes', async () => {
    const events: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const a = processor(async function* () {
      yield 'first';
      events.push('a waits');
      await gate;
      yield 'second';
    });
    const b = processor(async function* (input) {
      for await (const p of input) {
        events.push(`b got ${p.text}`);
        if (p.text === 'first') release();
        yield p;
      }
    });
    expect(await chain(a, b)().text()).toBe('firstsecond');
    expect(events.indexOf('b got first')).toBeLessThan(events.indexOf('b got second'));
    expect(events[0]).toBe('b got first');
  });

  it('a chain of part processors is a part processor; .pipe is chain', async () => {
    const up = partProcessor((p) => p.text!.toUpperCase(), { name: 'up' });
    const bang = partProcessor((p) => `${p.text}!`, { name: 'bang' });
    const fused: PartProcessor = chain(up, bang);
    expect(typeof fused.match).toBe('function');
    expect(fused.name).toBe('up -> bang');
    expect(await fused(['a', 'b']).text()).toBe('A!B!');
    expect(await up.pipe(bang)(['c']).text()).toBe('C!');
  });

  it('in a fused chain each member keeps its own match and concurrency', async () => {
    const active = [0, 0];
    const peak = [0, 0];
    const member = (index: number, concurrency: number) =>
      partProcessor(
        async (p) => {
          active[index]!++;
          peak[index] = Math.max(peak[index]!, active[index]!);
          await new Promise((resolve) => setTimeout(resolve, 2));
          active[index]!--;
          return textPart(`${p.text}${index}`);
        },
        { concurrency, match: (p) => !p.text!.startsWith('skip') },
      );
    const out = await chain(member(0, 2), member(1, 5))(['a', 'b', 'c', 'd', 'e', 'f', 'skip']).gather();
    expect(out.map((p) => p.text)).toEqual(['a01', 'b01', 'c01', 'd01', 'e01', 'f01', 'skip']);
    expect(peak[0]).toBe(2);
    expect(peak[1]).toBeLessThanOrEqual(5);
  });

  it('a fan-out member feeds the next member concurrently, outputs in depth-first order', async () => {
    const splitter = partProcessor((p) => p.text!.split(''));
    const slow = partProcessor(
      async (p) => {
        await new Promise((resolve) => setTimeout(resolve, p.text === 'a' ? 10 : 1));
        return `[${p.text}]`;
      },
      { concurrency: 4 },
    );
    expect(await chain(splitter, slow)(['ab', 'c']).text()).toBe('[a][b][c]');
  });

  it('mixes stream processors and part processors', async () => {
    const count = processor(async function* (input) {
      let n = 0;
      for await (const p of input) {
        n++;
        yield p;
      }
      yield `count=${n}`;
    });
    const up = partProcessor((p) => p.text!.toUpperCase());
    expect(await chain(up, count, up)(['x', 'y']).text()).toBe('XYCOUNT=2');
  });

  it('an empty chain passes parts through', async () => {
    expect(await chain()(['a', 'b']).text()).toBe('ab');
  });

  it('refuses something that is not a processor', () => {
    expect(() => chain((() => {}) as never)).toThrow(/not a Sluice processor/);
  });
});
