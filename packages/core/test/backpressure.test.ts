import { describe, expect, it } from 'vitest';
import { part, partProcessor, processor } from '../src/index.ts';

describe('backpressure', () => {
  it('a part processor streaming many outputs for the head part waits for a stalled consumer', async () => {
    let produced = 0;
    const many = partProcessor(async function* () {
      for (let i = 0; i < 100_000; i++) {
        produced++;
        yield String(i);
      }
    });
    const iterator = many(['go'])[Symbol.asyncIterator]();
    await iterator.next();
    for (let i = 0; i < 50; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(produced).toBeLessThan(200);
    await iterator.return?.();
  });

  it('lazy: outputs after the first are pulled only on demand, so a break stops fn before its last step', async () => {
    for (let round = 0; round < 20; round++) {
      const steps: string[] = [];
      const commit = partProcessor(
        async function* (p) {
          try {
            steps.push('work 1');
            yield `${p.text}:1`;
            steps.push('work 2');
            yield `${p.text}:2`;
            steps.push('commit');
            yield `${p.text}:committed`;
          } finally {
            steps.push('finally');
          }
        },
        { lazy: true },
      );
      for await (const out of commit(['a'])) {
        expect(out.text).toBe('a:1');
        break;
      }
      expect(steps).not.toContain('commit');
      expect(steps.at(-1)).toBe('finally');
    }
  });

  it('lazy outputs still stream in order when read to the end', async () => {
    const p = partProcessor(
      async function* (part) {
        for (let i = 0; i < 3; i++) {
          await new Promise((resolve) => setTimeout(resolve, 1));
          yield `${part.text}${i}`;
        }
      },
      { lazy: true, concurrency: 2 },
    );
    expect(await p(['a', 'b', 'c']).text()).toBe('a0a1a2b0b1b2c0c1c2');
  });

  it('lazy: a part that reaches a lazy member early waits for the consumer, so it never takes the slot the part before it needs', async () => {
    // The upstream member finishes 'b' before 'a'. A lazy member that started 'b' at once would
    // pause it after its first output (not at the head, nobody reads it) while holding the only
    // slot, and 'a' would wait for that slot forever.
    let openA!: () => void;
    const gateA = new Promise<void>((resolve) => {
      openA = resolve;
    });
    let bPassed!: () => void;
    const bUpstream = new Promise<void>((resolve) => {
      bPassed = resolve;
    });
    const upstream = partProcessor(
      async (p) => {
        if (p.text === 'a') await gateA;
        else bPassed();
        return p;
      },
      { concurrency: 2 },
    );
    const started: string[] = [];
    const lazyOne = partProcessor(
      async function* (p) {
        started.push(p.text ?? '');
        yield `${p.text}:1 `;
        yield `${p.text}:2 `;
      },
      { lazy: true, concurrency: 1 },
    );
    const run = upstream.pipe(lazyOne)(['a', 'b']);
    const text = run.text();
    await bUpstream;
    for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(started).toEqual([]);
    openA();
    expect(await text).toBe('a:1 a:2 b:1 b:2 ');
    expect(started).toEqual(['a', 'b']);
  });

  it('lazy: fn runs on a part only when the consumer reaches it, and a value returned at once is read in place', async () => {
    const calls: string[] = [];
    const p = partProcessor(
      (part) => {
        calls.push(part.text ?? '');
        return `${part.text}!`;
      },
      { lazy: true },
    );
    const iterator = p(['x', 'y'])[Symbol.asyncIterator]();
    expect((await iterator.next()).value?.text).toBe('x!');
    // The input 'y' has been read ahead by now, but the lazy member has not run on it.
    for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(calls).toEqual(['x']);
    expect((await iterator.next()).value?.text).toBe('y!');
    expect((await iterator.next()).done).toBe(true);
  });

  it('object literals yielded by a processor come out as complete, frozen parts', async () => {
    const loose = processor(async function* () {
      yield { mimetype: 'text/plain', text: 'x', substream: '' } as never;
    });
    const [out] = await loose().gather();
    expect(Object.isFrozen(out)).toBe(true);
    expect(out).toEqual(part('x'));
  });
});
