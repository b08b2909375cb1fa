import { describe, expect, it } from 'vitest';
import { chain, partProcessor, processor, statusPart, textPart } from '../src/index.ts';

describe('reserved substreams', () => {
  it("input parts on 'status', 'debug', 'ui' and their children bypass fn and reach the output", async () => {
    const seen: string[] = [];
    const p = partProcessor((part) => {
      seen.push(part.text!);
      return part;
    });
    const q = processor(async function* (input) {
      for await (const part of input) {
        seen.push(`q:${part.text}`);
        yield part;
      }
    });
    const input = [
      textPart('a'),
      statusPart('s'),
      textPart('d', { substream: 'debug' }),
      textPart('u', { substream: 'ui/progress' }),
      textPart('x', { substream: 'status/download' }),
      textPart('b'),
    ];
    const out = await chain(p, q)(input).gather();
    expect(seen.sort()).toEqual(['a', 'b', 'q:a', 'q:b']);
    expect(out.map((part) => `${part.substream}:${part.text}`).sort()).toEqual(
      [':a', ':b', 'status:s', 'debug:d', 'ui/progress:u', 'status/download:x'].sort(),
    );
  });

  it('a status part reaches the consumer at once, while a slow stage is still busy', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const slow = processor(async function* (input, ctx) {
      ctx.status('started');
      await gate;
      for await (const part of input) yield part;
    });
    const iterator = chain(
      slow,
      partProcessor((p) => p),
    )(['a'])[Symbol.asyncIterator]();
    const first = await iterator.next();
    expect(first.value).toMatchObject({ substream: 'status', text: 'started' });
    release();
    expect((await iterator.next()).value.text).toBe('a');
    expect((await iterator.next()).done).toBe(true);
  });

  it('ctx.debug and ctx.status from a part processor come out on their substreams', async () => {
    const p = partProcessor((part, ctx) => {
      ctx.debug(`saw ${part.text}`);
      ctx.status('ok', { metadata: { n: 1 } });
      return part;
    });
    const out = await p(['z']).gather();
    expect(out.find((x) => x.substream === 'debug')?.text).toBe('saw z');
    expect(out.find((x) => x.substream === 'status')?.metadata).toEqual({ n: 1 });
    expect(out.filter((x) => x.substream === '').map((x) => x.text)).toEqual(['z']);
  });
});
