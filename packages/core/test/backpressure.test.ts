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

  it('object literals yielded by a processor come out as complete, frozen parts', async () => {
    const loose = processor(async function* () {
      yield { mimetype: 'text/plain', text: 'x', substream: '' } as never;
    });
    const [out] = await loose().gather();
    expect(Object.isFrozen(out)).toBe(true);
    expect(out).toEqual(part('x'));
  });
});
