import { describe, expect, it } from 'vitest';
import { concat, gather, streamContent } from '../src/index.ts';
import { tracked } from '../src/testing.ts';

describe('concat', () => {
  it('yields source 0 entirely, then source 1, ...', async () => {
    expect(await gather(concat(streamContent([1, 2]), streamContent([3]), streamContent([4, 5])))).toEqual([
      1, 2, 3, 4, 5,
    ]);
  });

  it('reads every source from the start (a later source runs while an earlier one is still going)', async () => {
    const events: string[] = [];
    async function* first() {
      events.push('first:start');
      await new Promise((resolve) => setTimeout(resolve, 5));
      events.push('first:item');
      yield 1;
    }
    async function* second() {
      events.push('second:start');
      yield 2;
    }
    expect(await gather(concat(first(), second()))).toEqual([1, 2]);
    expect(events.indexOf('second:start')).toBeLessThan(events.indexOf('first:item'));
  });

  it('throws the first error of any source at once and stops the others', async () => {
    const boom = new Error('boom');
    const endless = tracked([1], { endless: true, delayMs: 1 });
    const failing = tracked<number>([], { error: boom });
    await expect(gather(concat(endless, failing))).rejects.toBe(boom);
    expect(endless.tracker.closed).toBe(true);
  });

  it('break stops every source', async () => {
    const a = tracked([1, 2, 3]);
    const b = tracked([4], { endless: true });
    for await (const item of concat(a, b)) if (item === 2) break;
    expect(a.tracker.closed && b.tracker.closed).toBe(true);
  });
});
