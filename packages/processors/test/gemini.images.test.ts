import { part, textPart } from '@sluice/core';
import { describe, expect, it } from 'vitest';
import { gemini } from '../src/index.ts';
import { drawPicture, startFakeModelServer } from '../src/testing/index.ts';

const imageOutput = { generationConfig: { responseModalities: ['TEXT', 'IMAGE'] } };

describe('gemini image output and input', () => {
  for (const dataURLInText of [false, true]) {
    it(`yields the image as a data part (${dataURLInText ? 'a data: URL in text' : 'inlineData'})`, async () => {
      await using server = await startFakeModelServer({ provider: 'gemini', images: { dataURLInText } });
      const model = gemini({
        model: 'gemini-2.5-flash-image',
        baseURL: server.baseURL,
        apiKey: 'k',
        extraBody: imageOutput,
      });
      const parts = await model('a paper boat').gather();
      expect(parts.map((p) => [p.substream, p.mimetype])).toEqual([
        ['', 'text/plain'],
        ['', 'image/png'],
        ['status', 'text/plain'],
      ]);
      expect(parts[1]!.role).toBe('model');
      expect(Buffer.from(parts[1]!.data!).equals(Buffer.from(drawPicture('a paper boat')))).toBe(true);
      expect(parts[2]!.metadata).toMatchObject({ finishReason: 'stop', usage: { outputTokens: 1290 } });
    });
  }

  it('sends image parts of the input as inlineData', async () => {
    await using server = await startFakeModelServer({ provider: 'gemini' });
    const photo = drawPicture('input photo');
    const model = gemini({ model: 'gemini-2.5-flash', baseURL: server.baseURL, apiKey: 'k' });
    await model([textPart('what is this?'), part(photo, { mimetype: 'image/png' })]).gather();
    const body = server.requests[0]!.body as { contents: { parts: Record<string, unknown>[] }[] };
    expect(body.contents[0]!.parts).toEqual([
      { text: 'what is this?' },
      { inlineData: { mimeType: 'image/png', data: Buffer.from(photo).toString('base64') } },
    ]);
  });
});
