import { describe, expect, it } from 'vitest';
import {
  catchErrors,
  chain,
  EXCEPTION_MIMETYPE,
  filter,
  parallel,
  parallelConcat,
  partProcessor,
  passthrough,
  processor,
  source,
  statusPart,
  textPart,
} from '../src/index.ts';
import { endlessStream, streamContent, tracked } from '../src/testing.ts';

const upper = partProcessor((p) => p.text!.toUpperCase(), { name: 'upper' });
const twice = partProcessor(async function* (p) {
  await new Promise((resolve) => setTimeout(resolve, 2));
  yield `${p.text}1`;
  yield `${p.text}2`;
});

describe('parallel', () => {
  it("for each part: p's outputs then q's, computed concurrently", async () => {
    let peak = 0;
    let active = 0;
    const slow = (tag: string) =>
      partProcessor(async (p) => {
        active++;
        peak = Math.max(peak, active);
        await new Promise((resolve) => setTimeout(resolve, 5));
        active--;
        return `${tag}${p.text}`;
      });
    expect(await parallel(slow('p'), slow('q'))(['a', 'b']).text()).toBe('paqapbqb');
    expect(peak).toBeGreaterThan(1);
  });

  it('a processor whose match is false adds nothing; a part matching none passes through', async () => {
    const onlyA = partProcessor((p) => `A:${p.text}`, { match: (p) => p.text === 'a' });
    const onlyB = partProcessor((p) => `B:${p.text}`, { match: (p) => p.text === 'b' });
    expect((await parallel(onlyA, onlyB, twice)(['a', 'c']).gather()).map((p) => p.text)).toEqual([
      'A:a',
      'a1',
      'a2',
      'c1',
      'c2',
    ]);
    expect((await parallel(onlyA, onlyB)(['a', 'z']).gather()).map((p) => p.text)).toEqual(['A:a', 'z']);
  });
});

describe('parallelConcat', () => {
  it("all of p's output, then all of q's, from the whole input", async () => {
    const count = processor(async function* (input) {
      let n = 0;
      for await (const _ of input) n++;
      yield `n=${n}`;
    });
    expect(await parallelConcat(upper, count, twice)(['x', 'y']).text()).toBe('XYn=2x1x2y1y2');
  });
});

describe('filter and passthrough', () => {
  it('filter keeps matching parts, reserved parts always pass', async () => {
    const out = await filter((p) => p.text !== 'drop')(['keep', 'drop', statusPart('s')]).gather();
    expect(out.map((p) => p.text).sort()).toEqual(['keep', 's']);
  });

  it('passthrough passes every part unchanged', async () => {
    const input = [textPart('a', { role: 'user', metadata: { k: 1 } })];
    expect(await passthrough()(input).gather()).toEqual(input);
  });
});

describe('source', () => {
  it('called without input, runs until fn ends', async () => {
    expect(
      await source(async function* () {
        yield 'a';
        yield 'b';
      })().text(),
    ).toBe('ab');
  });

  it('merges its parts with the input and, by default, stops when either ends', async () => {
    const ticks = tracked(['tick'], { endless: true, delayMs: 1 });
    const out = await source(() => ticks)(streamContent(['in1', 'in2'], { delayMs: 3 })).gather();
    expect(out.map((p) => p.text)).toContain('in2');
    expect(ticks.tracker.closed).toBe(true);
  });

  it('stopOnFirst: false waits for both', async () => {
    const out = await source(
      async function* () {
        yield 'own';
      },
      { stopOnFirst: false },
    )(streamContent(['in'], { delayMs: 2 })).gather();
    expect(out.map((p) => p.text).sort()).toEqual(['in', 'own']);
  });

  it('in a chain, a source fed by an endless input is stopped by break', async () => {
    let closed = false;
    const s = source(async function* (ctx) {
      try {
        yield 'from source';
        // like real I/O: waits until the run is stopped
        await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
      } finally {
        closed = true;
      }
    });
    for await (const p of chain(s, upper)(endlessStream())) {
      expect(p.text).toBe('FROM SOURCE');
      break;
    }
    expect(closed).toBe(true);
  });
});

describe('catchErrors', () => {
  it('part processor: the error takes the failing part’s place and the stream goes on', async () => {
    const flaky = partProcessor((p) => {
      if (p.text === 'b') throw new RangeError('b is out of range');
      return p.text!.toUpperCase();
    });
    const out = await catchErrors(flaky)(['a', 'b', 'c']).gather();
    expect(out.map((p) => p.text)).toEqual(['A', 'RangeError: b is out of range', 'C']);
    expect(out[1]).toMatchObject({
      mimetype: EXCEPTION_MIMETYPE,
      substream: '',
      metadata: { name: 'RangeError', message: 'b is out of range' },
    });
  });

  it('downstream processors see the exception part', async () => {
    const failing = processor(async function* () {
      yield 'partial';
      throw new TypeError('broke');
    });
    const seen: string[] = [];
    const observer = partProcessor((p) => {
      seen.push(p.mimetype);
      return p;
    });
    const out = await chain(catchErrors(failing), observer)().gather();
    expect(out.map((p) => p.text)).toEqual(['partial', 'TypeError: broke']);
    expect(seen).toEqual(['text/plain', EXCEPTION_MIMETYPE]);
  });

  it('exception parts from upstream reach the members of a wrapped part processor; its own skip the later members', async () => {
    const upstream = catchErrors(
      partProcessor((p) => {
        if (p.text === 'b') throw new Error('bad b');
        return p;
      }),
    );
    const seen: string[] = [];
    const report = partProcessor((p) => {
      seen.push(p.text ?? '');
      if (p.text === 'c') throw new Error('bad c');
      return `reported ${p.text}`;
    });
    const after = partProcessor((p) => `after ${p.text}`);
    const out = await chain(upstream, catchErrors(chain(report, after)))(['a', 'b', 'c']).text();
    expect(seen).toEqual(['a', 'Error: bad b', 'c']);
    expect(out).toBe('after reported aafter reported Error: bad bError: bad c');
  });

  it('does not catch the caller’s abort', async () => {
    const reason = new Error('stop');
    const controller = new AbortController();
    const run = catchErrors(processor(() => endlessStream()))(undefined, { signal: controller.signal }).gather();
    queueMicrotask(() => controller.abort(reason));
    await expect(run).rejects.toBe(reason);
  });
});
