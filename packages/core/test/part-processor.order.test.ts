import { describe, expect, it } from 'vitest';
import { DEFAULT_CONCURRENCY, type Part, partProcessor, textPart } from '../src/index.ts';
import { streamContent } from '../src/testing.ts';

function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

describe('partProcessor ordering and concurrency', () => {
  it('processes up to `concurrency` parts at once and emits in input order', async () => {
    let active = 0;
    let peak = 0;
    const p = partProcessor(
      async (part) => {
        active++;
        peak = Math.max(peak, active);
        // later parts finish first
        await new Promise((resolve) => setTimeout(resolve, 20 - Number(part.text)));
        active--;
        return textPart(`${part.text}!`);
      },
      { concurrency: 3 },
    );
    const out = await p(Array.from({ length: 10 }, (_, i) => String(i))).gather();
    expect(out.map((x) => x.text)).toEqual(Array.from({ length: 10 }, (_, i) => `${i}!`));
    expect(peak).toBe(3);
  });

  it('without a concurrency option, DEFAULT_CONCURRENCY parts (more than one) run at once', async () => {
    let active = 0;
    let peak = 0;
    const gates: (() => void)[] = [];
    const p = partProcessor(async (part: Part) => {
      active++;
      peak = Math.max(peak, active);
      await new Promise<void>((resolve) => gates.push(resolve));
      active--;
      return part;
    });
    const input = Array.from({ length: DEFAULT_CONCURRENCY * 2 }, (_, i) => String(i));
    const done = p(input).gather();
    // Let the engine start every call it is allowed to, then release them one at a time.
    for (let tick = 0; tick < 50 && gates.length < DEFAULT_CONCURRENCY; tick++) await Promise.resolve();
    expect(DEFAULT_CONCURRENCY).toBeGreaterThan(1);
    expect(gates.length).toBe(DEFAULT_CONCURRENCY);
    while (gates.length > 0 || active > 0) {
      gates.shift()?.();
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect((await done).map((x) => x.text)).toEqual(input);
    expect(peak).toBe(DEFAULT_CONCURRENCY);
  });

  it("streams the head part's outputs as they are produced, before later parts finish", async () => {
    const gate = deferred();
    const p = partProcessor(async function* (part) {
      yield `${part.text}:1`;
      if (part.text === 'a') await gate.promise;
      yield `${part.text}:2`;
    });
    const iterator = p(['a', 'b'])[Symbol.asyncIterator]();
    expect((await iterator.next()).value.text).toBe('a:1');
    gate.resolve();
    const rest: string[] = [];
    for (let r = await iterator.next(); !r.done; r = await iterator.next()) rest.push(r.value.text!);
    expect(rest).toEqual(['a:2', 'b:1', 'b:2']);
  });

  it('all outputs of part i come before any of part i+1 even when i+1 finishes first', async () => {
    const p = partProcessor(async function* (part) {
      const n = Number(part.text);
      for (let i = 0; i < 3; i++) {
        await new Promise((resolve) => setTimeout(resolve, n === 0 ? 5 : 0));
        yield `${n}.${i}`;
      }
    });
    expect((await p(['0', '1', '2']).gather()).map((x) => x.text)).toEqual([
      '0.0',
      '0.1',
      '0.2',
      '1.0',
      '1.1',
      '1.2',
      '2.0',
      '2.1',
      '2.2',
    ]);
  });

  it('parts that do not match pass through unchanged, in their place', async () => {
    const p = partProcessor((part) => part.text!.toUpperCase(), { match: (part) => part.text !== 'skip' });
    expect((await p(['a', 'skip', 'b']).gather()).map((x) => x.text)).toEqual(['A', 'skip', 'B']);
  });

  it('accepts every return shape: part, string, bytes, arrays, sync/async iterables, promises, nothing', async () => {
    const p = partProcessor((part) => {
      switch (part.text) {
        case 'part':
          return textPart('P');
        case 'string':
          return 'S';
        case 'array':
          return ['A1', 'A2'];
        case 'sync':
          return (function* () {
            yield 'G1';
          })();
        case 'async':
          return (async function* () {
            yield 'AG';
          })();
        case 'promise':
          return Promise.resolve(['PR']);
        default:
          return undefined;
      }
    });
    const out = await p(['part', 'string', 'array', 'sync', 'async', 'promise', 'none']).gather();
    expect(out.map((x) => x.text)).toEqual(['P', 'S', 'A1', 'A2', 'G1', 'AG', 'PR']);
  });

  it('a bad return value is a TypeError naming the processor', async () => {
    const p = partProcessor(() => 42 as never, { name: 'broken' });
    await expect(p(['x']).gather()).rejects.toThrow(/broken/);
  });

  it('rejects a bad concurrency', () => {
    expect(() => partProcessor((x) => x, { concurrency: 0 })).toThrow(RangeError);
  });

  it('reads ahead only a bounded number of parts when the consumer stalls', async () => {
    let pulled = 0;
    async function* many() {
      for (let i = 0; i < 100_000; i++) {
        pulled++;
        yield textPart(String(i));
      }
    }
    const iterator = partProcessor((part) => part, { concurrency: 4 })(many())[Symbol.asyncIterator]();
    await iterator.next();
    for (let i = 0; i < 50; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(pulled).toBeLessThan(200);
    await iterator.return?.();
  });

  it('works with delayed fake streams as input', async () => {
    const p = partProcessor((part) => `<${part.text}>`);
    expect(await p(streamContent(['a', 'b'], { delayMs: 1 })).text()).toBe('<a><b>');
  });
});
