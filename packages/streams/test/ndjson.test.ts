import { describe, expect, it } from 'vitest';
import { decodeNDJSON, decodeText, encodeNDJSON, gather, NDJSONError, streamContent } from '../src/index.ts';

const bytes = (text: string) => new TextEncoder().encode(text);

describe('decodeNDJSON / encodeNDJSON', () => {
  it('parses lines split anywhere, CRLF, blank lines, and a last line without newline', async () => {
    const text = '{"a":1}\r\n\n{"b":"é"}\n  \n[1,2]';
    const all = bytes(text);
    const chunks = [all.subarray(0, 3), all.subarray(3, 15), all.subarray(15)];
    expect(await gather(decodeNDJSON(streamContent(chunks)))).toEqual([{ a: 1 }, { b: 'é' }, [1, 2]]);
  });

  it('names the line number and quotes the line on invalid JSON', async () => {
    const error = await gather(decodeNDJSON(streamContent(['{"ok":true}\n', '\n{oops}\n']))).catch((e) => e);
    expect(error).toBeInstanceOf(NDJSONError);
    expect(error.line).toBe(3);
    expect(error.message).toContain('line 3');
    expect(error.message).toContain('"{oops}"');
  });

  it('round-trips values', async () => {
    const values = [{ x: 1 }, 'two', [3], null];
    expect(await gather(decodeNDJSON(encodeNDJSON(streamContent(values))))).toEqual(values);
  });

  it('refuses values JSON cannot encode', async () => {
    await expect(gather(encodeNDJSON(streamContent([undefined])))).rejects.toThrow(TypeError);
  });
});

describe('decodeText', () => {
  it('keeps UTF-8 characters whole across chunk boundaries', async () => {
    const all = bytes('a🎉b€');
    const chunks = Array.from(all, (byte) => Uint8Array.of(byte));
    expect((await gather(decodeText(streamContent(chunks)))).join('')).toBe('a🎉b€');
  });
});
