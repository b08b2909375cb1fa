import { createParser } from 'eventsource-parser';
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { decodeSSE, encodeSSE, gather, type SSEEvent, streamContent } from '../src/index.ts';

const bytes = (text: string) => new TextEncoder().encode(text);
const decode = (...chunks: (string | Uint8Array)[]) => gather(decodeSSE(streamContent(chunks)));

describe('decodeSSE (WHATWG EventSource rules)', () => {
  it('parses data, event, id and retry; event is undefined without an event field', async () => {
    expect(await decode('data: hello\n\nevent: greet\ndata: hi\nid: 7\nretry: 3000\n\n')).toEqual([
      { data: 'hello' },
      { event: 'greet', data: 'hi', id: '7', retry: 3000 },
    ]);
  });

  it('accepts CR, LF and CRLF line ends, also a CRLF split across chunks', async () => {
    expect(await decode('data: a\r\rdata: b\n\ndata: c\r', '\n\r\n')).toEqual([
      { data: 'a' },
      { data: 'b' },
      { data: 'c' },
    ]);
  });

  it('joins multi-line data with LF and strips only one leading space', async () => {
    expect(await decode('data:  one\ndata:two\ndata\n\n')).toEqual([{ data: ' one\ntwo\n' }]);
  });

  it('ignores comments and unknown fields; a block with no data dispatches nothing', async () => {
    expect(await decode(': ping\n\nevent: lonely\n\nfoo: bar\ndata: x\n\n')).toEqual([{ data: 'x' }]);
  });

  it('keeps the last event id across events until changed; an id with NUL is ignored', async () => {
    expect(await decode('id: 1\ndata: a\n\ndata: b\n\nid: 2\0\ndata: c\n\nid\ndata: d\n\n')).toEqual([
      { data: 'a', id: '1' },
      { data: 'b', id: '1' },
      { data: 'c', id: '1' },
      { data: 'd' },
    ]);
  });

  it('ignores an invalid retry', async () => {
    expect(await decode('retry: 10a\ndata: a\n\n')).toEqual([{ data: 'a' }]);
  });

  it('strips a leading BOM and decodes a UTF-8 character split across chunks', async () => {
    const all = bytes('\uFEFFdata: héllo 🎉\n\n');
    expect(await decode(all.subarray(0, 11), all.subarray(11, 14), all.subarray(14))).toEqual([{ data: 'héllo 🎉' }]);
  });

  it('strips one BOM only, from bytes as from text; an empty event field means the default type', async () => {
    const text = '\uFEFF\uFEFFdata: a\n\nevent:\ndata: b\n\n';
    expect(await decode(bytes(text))).toEqual(await decode(text));
    expect(await decode(text)).toEqual([{ data: 'b' }]);
  });

  it('discards an event not terminated by a blank line at the end of the stream', async () => {
    expect(await decode('data: a\n\ndata: partial\n')).toEqual([{ data: 'a' }]);
  });

  it('matches eventsource-parser on random inputs split at random points', () =>
    fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            data: fc.string({ unit: fc.constantFrom('a', 'é', '🎉', ' ', ':', 'x') }),
            event: fc.option(fc.constantFrom('msg', 'delta'), { nil: undefined }),
            id: fc.option(fc.constantFrom('1', '42'), { nil: undefined }),
          }),
          { maxLength: 6 },
        ),
        fc.constantFrom('\n', '\r\n', '\r'),
        fc.array(fc.nat(), { maxLength: 5 }),
        async (events, eol, cuts) => {
          const text = events
            .map(
              (e) =>
                `${e.event ? `event: ${e.event}${eol}` : ''}${e.id ? `id: ${e.id}${eol}` : ''}data: ${e.data}${eol}${eol}`,
            )
            .join(`: comment${eol}`);
          const encoded = bytes(text);
          const points = [...new Set(cuts.map((c) => c % (encoded.length + 1)))].sort((a, b) => a - b);
          const chunks: Uint8Array[] = [];
          let last = 0;
          for (const p of [...points, encoded.length]) {
            chunks.push(encoded.subarray(last, p));
            last = p;
          }
          const ours = await decode(...chunks);
          const theirs: SSEEvent[] = [];
          const parser = createParser({
            onEvent: (e) => {
              const event: SSEEvent = { data: e.data };
              if (e.event !== undefined) event.event = e.event;
              if (e.id !== undefined && e.id !== '') event.id = e.id;
              theirs.push(event);
            },
          });
          parser.feed(text);
          expect(ours.map((e) => ({ data: e.data, event: e.event }))).toEqual(
            theirs.map((e) => ({ data: e.data, event: e.event })),
          );
        },
      ),
      { numRuns: 200 },
    ));
});

describe('encodeSSE', () => {
  it('round-trips through decodeSSE, multi-line data included', async () => {
    const events: SSEEvent[] = [{ data: 'one' }, { event: 'e', data: 'two\nlines', id: '5' }, { data: '', retry: 10 }];
    expect(await gather(decodeSSE(encodeSSE(streamContent(events))))).toEqual([
      { data: 'one' },
      { event: 'e', data: 'two\nlines', id: '5' },
      { data: '', id: '5', retry: 10 },
    ]);
  });

  it('sends `: ping` heartbeats while the source is silent, which decode to no event, and clears its timer', async () => {
    vi.useFakeTimers();
    try {
      const chunks: string[] = [];
      const run = (async () => {
        for await (const chunk of encodeSSE(streamContent([{ data: 'a' }, { data: 'b' }], { delayMs: 250 }), {
          heartbeatMs: 100,
        })) {
          chunks.push(new TextDecoder().decode(chunk));
        }
      })();
      await vi.runAllTimersAsync();
      await run;
      expect(chunks).toEqual(['data: a\n\n', ': ping\n\n', ': ping\n\n', 'data: b\n\n', ': ping\n\n', ': ping\n\n']);
      expect(vi.getTimerCount()).toBe(0);
      expect(await gather(decodeSSE(streamContent(chunks)))).toEqual([{ data: 'a' }, { data: 'b' }]);
    } finally {
      vi.useRealTimers();
    }
  });

  it('heartbeatMs 0 or Infinity sends no heartbeat', async () => {
    vi.useFakeTimers();
    try {
      for (const heartbeatMs of [0, Number.POSITIVE_INFINITY]) {
        const chunks = gather(
          encodeSSE(streamContent([{ data: 'a' }], { delayMs: 1000, delayFirst: true }), { heartbeatMs }),
        );
        await vi.runAllTimersAsync();
        expect((await chunks).map((c) => new TextDecoder().decode(c))).toEqual(['data: a\n\n']);
      }
    } finally {
      vi.useRealTimers();
    }
  });

  it('refuses a line break in the event name', async () => {
    await expect(gather(encodeSSE(streamContent([{ event: 'a\nb', data: 'x' }])))).rejects.toThrow(/line break/);
  });
});
