import { part, textPart } from '@sluice/core';
import { describe, expect, it } from 'vitest';
import { ContentPolicyError, openaiImages, UnexpectedResponseError } from '../src/index.ts';
import { drawPicture, PNG_SIGNATURE, startFakeModelServer } from '../src/testing/index.ts';

const isPNG = (data: Uint8Array | undefined) => !!data && PNG_SIGNATURE.every((b, i) => data[i] === b);

describe('openaiImages against the fake server', () => {
  it('reads the JSON answer: images in index order, then the status part with usage', async () => {
    await using server = await startFakeModelServer({ provider: 'openai' });
    const model = openaiImages({
      model: 'gpt-image-1',
      baseURL: server.baseURL,
      apiKey: 'sk-test',
      n: 2,
      size: '1024x1024',
    });
    const parts = await model('a lighthouse at dusk').gather();
    expect(parts.map((p) => [p.substream, p.mimetype])).toEqual([
      ['', 'image/png'],
      ['', 'image/png'],
      ['status', 'text/plain'],
    ]);
    expect(parts[0]!.role).toBe('model');
    expect(parts.slice(0, 2).map((p) => p.metadata)).toEqual([
      { index: 0, revisedPrompt: 'a lighthouse at dusk (revised)' },
      { index: 1, revisedPrompt: 'a lighthouse at dusk (revised)' },
    ]);
    expect(isPNG(parts[0]!.data)).toBe(true);
    expect(Buffer.from(parts[0]!.data!).equals(Buffer.from(drawPicture('a lighthouse at dusk#0')))).toBe(true);
    expect(Buffer.from(parts[0]!.data!).equals(Buffer.from(parts[1]!.data!))).toBe(false);
    expect(parts[2]!.metadata).toMatchObject({ usage: { inputTokens: 4, outputTokens: 544, totalTokens: 548 } });
    expect(server.requests[0]!.path).toBe('/v1/images/generations');
    expect(server.requests[0]!.body).toEqual({
      model: 'gpt-image-1',
      prompt: 'a lighthouse at dusk',
      n: 2,
      size: '1024x1024',
    });
    expect(server.requests[0]!.headers.authorization).toBe('Bearer sk-test');
  });

  it('streams partial images on substream preview before each final image', async () => {
    await using server = await startFakeModelServer({ provider: 'openai' });
    const model = openaiImages({ model: 'gpt-image-1', baseURL: server.baseURL, apiKey: 'k', n: 2, partialImages: 2 });
    const parts = await model('a red kite').gather();
    expect(parts.map((p) => [p.substream, p.metadata.index, p.metadata.partialIndex])).toEqual([
      ['preview', 0, 0],
      ['preview', 0, 1],
      ['', 0, undefined],
      ['preview', 1, 0],
      ['preview', 1, 1],
      ['', 1, undefined],
      ['status', undefined, undefined],
    ]);
    for (const p of parts.slice(0, -1)) expect(isPNG(p.data)).toBe(true);
    expect(parts.at(-1)!.metadata).toMatchObject({ usage: { inputTokens: 6, outputTokens: 544 } });
    expect(server.requests[0]!.body).toMatchObject({ stream: true, partial_images: 2 });
  });

  it('sends image parts to /images/edits as multipart', async () => {
    await using server = await startFakeModelServer({ provider: 'openai' });
    const model = openaiImages({ model: 'gpt-image-1', baseURL: server.baseURL, apiKey: 'k', partialImages: 1 });
    const photo = part(drawPicture('my cat'), { mimetype: 'image/png' });
    const parts = await model([textPart('give the cat a hat'), photo]).gather();
    expect(server.requests[0]!.path).toBe('/v1/images/edits');
    expect(String(server.requests[0]!.headers['content-type'])).toMatch(/^multipart\/form-data; boundary=/);
    expect(parts.map((p) => p.substream)).toEqual(['preview', '', 'status']);
    // The fake counts the uploaded image as 100 input tokens.
    expect(parts.at(-1)!.metadata).toMatchObject({ usage: { inputTokens: 105 } });
  });

  it('turns a moderation refusal into ContentPolicyError, not retried', async () => {
    await using server = await startFakeModelServer({
      provider: 'openai',
      images: { blocked: (p) => p.includes('forbidden') },
    });
    const model = openaiImages({ model: 'gpt-image-1', baseURL: server.baseURL, apiKey: 'sk-secret-key' });
    const error = await model('something forbidden')
      .gather()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ContentPolicyError);
    expect(error).toMatchObject({ code: 'E_CONTENT_POLICY', status: 400, providerCode: 'moderation_blocked' });
    expect((error as ContentPolicyError).hint).toMatch(/rephrase/);
    expect((error as Error).message).not.toContain('sk-secret-key');
    expect(server.requests).toHaveLength(1);
  });

  it('retries a 429, honouring Retry-After', async () => {
    await using server = await startFakeModelServer({
      provider: 'openai',
      fail: { status: 429, headers: { 'retry-after-ms': '5' }, times: 1 },
    });
    const model = openaiImages({ model: 'gpt-image-1', baseURL: server.baseURL, apiKey: 'k' });
    const parts = await model('retry me').gather();
    expect(parts.map((p) => p.substream)).toEqual(['status', '', 'status']);
    expect(parts[0]!.metadata).toMatchObject({ retry: 1, delayMs: 5 });
    expect(server.requests).toHaveLength(2);
  });

  it('checks the bytes against outputFormat', async () => {
    await using server = await startFakeModelServer({ provider: 'openai' });
    const model = openaiImages({ model: 'gpt-image-1', baseURL: server.baseURL, apiKey: 'k', outputFormat: 'jpeg' });
    const error = await model('a jpeg please')
      .gather()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnexpectedResponseError);
    expect((error as Error).message).toContain('expected image/jpeg (outputFormat), found image/png');
  });

  it('closes the connection when the consumer stops after the first preview', async () => {
    await using server = await startFakeModelServer({ provider: 'openai', delayMs: 20 });
    const model = openaiImages({ model: 'gpt-image-1', baseURL: server.baseURL, apiKey: 'k', n: 3, partialImages: 3 });
    for await (const p of model('stop early')) {
      expect(p.substream).toBe('preview');
      break;
    }
    const [request] = await server.waitForRequests(1);
    expect(await request!.closed).toEqual({ finished: false });
  });

  it('needs a text prompt', async () => {
    await using server = await startFakeModelServer({ provider: 'openai' });
    const model = openaiImages({ model: 'gpt-image-1', baseURL: server.baseURL, apiKey: 'k' });
    await expect(model([]).gather()).rejects.toThrow(/no text for the prompt/);
    expect(() => openaiImages({ model: 'gpt-image-1', n: 0 })).toThrow(RangeError);
  });
});
