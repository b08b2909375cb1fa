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

  it('object literals yielded by a processor come out as complete, frozen parts', async () => {
    const loose = processor(async function* () {
      yield { mimetype: 'text/plain', text: 'x', substream: '' } as never;
    });
    const [out] = await loose().gather();
    expect(Object.isFrozen(out)).toBe(true);
    expect(out).toEqual(part('x'));
  });
});
