// A long line (a base64 image in one `data:` field) costs one pass over its text, whatever the
// chunking: the decoder searches only the text each chunk adds, never its whole buffer again. Lines
// longer than `maxLineLength` fail with a coded LineTooLongError and stop the source; a 16 MiB
// image, base64-encoded, is well within the default.
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_MAX_LINE_LENGTH,
  decodeSSE,
  gather,
  LineTooLongError,
  type SSEEvent,
  SSEParser,
  streamContent,
} from '../src/index.ts';
import { tracked } from '../src/testing.ts';
import { base64Text, byteChunks, charactersSearched, prng, randomCuts } from './scanned.ts';

const MiB = 1024 * 1024;

describe('decodeSSE, long lines', () => {
  it('searches a 4 MiB line fed in 16 KiB chunks about once, not once per chunk', async () => {
    const line = base64Text(4 * MiB);
    const chunks = byteChunks(`data: ${line}\n\n`, 16 * 1024);
    let events: SSEEvent[] = [];
    const searched = await charactersSearched(async () => {
      events = await gather(decodeSSE(streamContent(chunks)));
    });
    expect(events).toHaveLength(1);
    expect(events[0]!.data.length).toBe(line.length);
    expect(events[0]!.data === line).toBe(true);
    // 256 chunks: searching the whole buffer on each would be ~128 times the line.
    expect(searched).toBeLessThan(4 * line.length);
  });

  it('does the same for CR and CRLF line ends, and for a line end split from its line', async () => {
    const line = base64Text(2 * MiB);
    for (const ending of ['\r\r', '\r\n\r\n', '\n\n']) {
      const chunks = byteChunks(`event: image\r\ndata: ${line}${ending}data: next\n\n`, 16 * 1024);
      // The line end alone in the last chunks.
      const last = chunks.length - 1;
      const split = [...chunks.slice(0, last), chunks[last]!.subarray(0, 1), chunks[last]!.subarray(1)];
      let events: SSEEvent[] = [];
      const searched = await charactersSearched(async () => {
        events = await gather(decodeSSE(streamContent(split)));
      });
      expect(events.map((e) => [e.event, e.data.length])).toEqual([
        ['image', line.length],
        [undefined, 4],
      ]);
      expect(searched).toBeLessThan(6 * line.length);
    }
  });

  it('parses long lines cut at random points exactly as eventsource-parser does', () => {
    const random = prng(15);
    for (let round = 0; round < 30; round++) {
      const lines: string[] = [];
      for (let i = 0; i < 6; i++) {
        const pick = Math.floor(random() * 6);
        const eol = ['\n', '\r', '\r\n'][Math.floor(random() * 3)]!;
        if (pick === 0) lines.push(eol);
        else if (pick === 1) lines.push(`: comment ${base64Text(Math.floor(random() * 3000))}${eol}`);
        else if (pick === 2) lines.push(`event: e${i}${eol}`);
        else lines.push(`data: ${base64Text(Math.floor(random() * 70_000))}${eol}`);
      }
      const text = `${lines.join('')}\n\n`;
      const expected: EventSourceMessage[] = [];
      createParser({ onEvent: (e) => expected.push(e) }).feed(text);
      const ours: SSEEvent[] = [];
      const parser = new SSEParser();
      for (const chunk of randomCuts(text, random, 20_000)) parser.feed(chunk, (e) => ours.push(e));
      expect(ours.map((e) => [e.event, e.data])).toEqual(expected.map((e) => [e.event, e.data]));
    }
  });

  it('accepts a 16 MiB image, base64-encoded in one data line, with the default limit', async () => {
    const line = base64Text(Math.ceil((16 * MiB * 4) / 3));
    expect(line.length).toBeLessThan(DEFAULT_MAX_LINE_LENGTH);
    const events = await gather(decodeSSE(streamContent(byteChunks(`data: {"image":"${line}"}\n\n`, 64 * 1024))));
    expect(events).toHaveLength(1);
    expect(events[0]!.data.length).toBe(line.length + 12);
  });

  it('fails a line longer than maxLineLength with E_LINE_TOO_LONG and stops the source', async () => {
    const source = tracked(byteChunks(`data: ok\n\ndata: ${'x'.repeat(5000)}\n\n`, 100), { endless: true });
    const seen: SSEEvent[] = [];
    const error = await (async () => {
      for await (const event of decodeSSE(source, { maxLineLength: 1000 })) seen.push(event);
    })().catch((e: unknown) => e);
    expect(seen.map((e) => e.data)).toEqual(['ok']);
    expect(error).toBeInstanceOf(LineTooLongError);
    expect(error).toMatchObject({ code: 'E_LINE_TOO_LONG', limit: 1000, name: 'LineTooLongError' });
    expect((error as Error).message).toMatch(/decodeSSE: a line is longer than 1,000 characters/);
    expect((error as LineTooLongError).hint).toMatch(/maxLineLength/);
    expect(source.tracker.closed).toBe(true);
  });

  it('applies the limit however the line arrives: in one chunk, or held across chunks', () => {
    const limit = 100;
    const exact = `data: ${'y'.repeat(limit - 6)}`;
    for (const chunks of [[`${exact}\n\n`], randomCuts(`${exact}\n\n`, prng(1), 7)]) {
      const got: string[] = [];
      const parser = new SSEParser({ maxLineLength: limit });
      for (const chunk of chunks) parser.feed(chunk, (e) => got.push(e.data));
      expect(got).toEqual(['y'.repeat(limit - 6)]);
    }
    for (const chunks of [[`${exact}y\n\n`], randomCuts(`${exact}y\r\n`, prng(2), 7), [`${exact}y`]]) {
      const parser = new SSEParser({ maxLineLength: limit });
      expect(() => {
        for (const chunk of chunks) parser.feed(chunk, () => {});
      }).toThrow(LineTooLongError);
    }
  });

  it('refuses a maxLineLength that is not a positive integer or Infinity', () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      expect(() => decodeSSE(streamContent([]), { maxLineLength: bad })).toThrow(RangeError);
      expect(() => new SSEParser({ maxLineLength: bad })).toThrow(RangeError);
    }
    expect(() => new SSEParser({ maxLineLength: Number.POSITIVE_INFINITY })).not.toThrow();
  });
});
