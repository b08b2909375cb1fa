// A long NDJSON line (a base64 image in one value) costs one pass over its text, whatever the
// chunking: the decoder searches only the text each chunk adds. Lines longer than
// `maxLineLength` fail with a coded LineTooLongError naming the line and stop the source; a
// 16 MiB image, base64-encoded, is well within the default.
import { describe, expect, it } from 'vitest';
import { DEFAULT_MAX_LINE_LENGTH, decodeNDJSON, gather, LineTooLongError, streamContent } from '../src/index.ts';
import { tracked } from '../src/testing.ts';
import { base64Text, byteChunks, charactersSearched, prng, randomCuts } from './scanned.ts';

const MiB = 1024 * 1024;

describe('decodeNDJSON, long lines', () => {
  it('searches a 4 MiB line fed in 16 KiB chunks about once, not once per chunk', async () => {
    const image = base64Text(4 * MiB);
    const chunks = byteChunks(`{"image":"${image}"}\r\n{"n":2}\n`, 16 * 1024);
    let values: unknown[] = [];
    const searched = await charactersSearched(async () => {
      values = await gather(decodeNDJSON(streamContent(chunks)));
    });
    expect(values).toEqual([{ image }, { n: 2 }]);
    expect(searched).toBeLessThan(4 * image.length);
  });

  it('parses long and short lines cut at random points as one JSON.parse per line does', async () => {
    const random = prng(15);
    for (let round = 0; round < 20; round++) {
      const values = Array.from({ length: 8 }, (_, i) =>
        random() < 0.5 ? { i } : { i, image: base64Text(Math.floor(random() * 60_000)) },
      );
      const text = values.map((v) => `${JSON.stringify(v)}${random() < 0.5 ? '\r\n' : '\n\n'}`).join('');
      const chunks = randomCuts(text, random, 9000);
      expect(await gather(decodeNDJSON(streamContent(chunks)))).toEqual(values);
    }
  });

  it('accepts a 16 MiB image, base64-encoded in one line, with the default limit', async () => {
    const image = base64Text(Math.ceil((16 * MiB * 4) / 3));
    expect(image.length).toBeLessThan(DEFAULT_MAX_LINE_LENGTH);
    const values = await gather(
      decodeNDJSON<{ image: string }>(streamContent(byteChunks(`{"image":"${image}"}`, 64 * 1024))),
    );
    expect(values).toHaveLength(1);
    expect(values[0]!.image.length).toBe(image.length);
  });

  it('fails a line longer than maxLineLength with E_LINE_TOO_LONG, naming the line, and stops the source', async () => {
    const source = tracked(byteChunks(`{"a":1}\n"${'x'.repeat(5000)}"\n`, 100), { endless: true });
    const seen: unknown[] = [];
    const error = await (async () => {
      for await (const value of decodeNDJSON(source, { maxLineLength: 1000 })) seen.push(value);
    })().catch((e: unknown) => e);
    expect(seen).toEqual([{ a: 1 }]);
    expect(error).toBeInstanceOf(LineTooLongError);
    expect(error).toMatchObject({ code: 'E_LINE_TOO_LONG', limit: 1000, line: 2 });
    expect((error as Error).message).toMatch(/decodeNDJSON: line 2 is longer than 1,000 characters/);
    expect(source.tracker.closed).toBe(true);
  });

  it('applies the limit however the line arrives, the last line without newline included', async () => {
    const limit = 50;
    const exact = `"${'y'.repeat(limit - 2)}"`;
    for (const text of [`${exact}\n`, `${exact}\r\n`, exact]) {
      for (const chunks of [[text], randomCuts(text, prng(3), 6)]) {
        expect(await gather(decodeNDJSON(streamContent(chunks), { maxLineLength: limit }))).toEqual([
          'y'.repeat(limit - 2),
        ]);
      }
    }
    const over = `"${'y'.repeat(limit - 1)}"`;
    for (const text of [`${over}\n`, over, `1\n${over}`]) {
      for (const chunks of [[text], randomCuts(text, prng(4), 6)]) {
        await expect(gather(decodeNDJSON(streamContent(chunks), { maxLineLength: limit }))).rejects.toBeInstanceOf(
          LineTooLongError,
        );
      }
    }
  });

  it('refuses a maxLineLength that is not a positive integer or Infinity', () => {
    for (const bad of [0, -1, 1.5, Number.NaN])
      expect(() => decodeNDJSON(streamContent([]), { maxLineLength: bad })).toThrow(RangeError);
  });
});
