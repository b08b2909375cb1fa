import { startFakeModelServer } from '@sluice/processors/testing';
import { describe, expect, it } from 'vitest';
import { ClosedError, ContentPolicyError, createImageModel } from '../src/index.ts';

describe('createImageModel', () => {
  it("'openai': generate gives the images, parts and usage; n and size per call", async () => {
    await using server = await startFakeModelServer({ provider: 'openai' });
    await using images = createImageModel('openai', { model: 'gpt-image-1', baseURL: server.baseURL, apiKey: 'k' });
    const result = await images.generate('two owls', { n: 2, size: '512x512' });
    expect(result.images).toHaveLength(2);
    expect(result.images.every((i) => i.mimetype === 'image/png')).toBe(true);
    expect(result.usage).toMatchObject({ outputTokens: 544 });
    expect(server.requests[0]!.body).toMatchObject({ n: 2, size: '512x512' });
  });

  it("'openai': four in parallel with Promise.all, each its own request", async () => {
    await using server = await startFakeModelServer({ provider: 'openai', delayMs: 5 });
    await using images = createImageModel('openai', {
      model: 'gpt-image-1',
      baseURL: server.baseURL,
      apiKey: 'k',
      partialImages: 1,
    });
    const prompts = ['a', 'b', 'c', 'd'].map((x) => `picture ${x}`);
    const results = await Promise.all(prompts.map((p) => images.generate(p)));
    expect(results.map((r) => r.images.length)).toEqual([1, 1, 1, 1]);
    expect(results.every((r) => r.parts[0]!.substream === 'preview')).toBe(true);
    expect(server.requests.map((r) => (r.body as { prompt: string }).prompt).sort()).toEqual(prompts);
  });

  it("'openai': a refusal rejects with ContentPolicyError", async () => {
    await using server = await startFakeModelServer({ provider: 'openai', images: { blocked: () => true } });
    await using images = createImageModel('openai', { model: 'gpt-image-1', baseURL: server.baseURL, apiKey: 'k' });
    await expect(images.generate('anything')).rejects.toBeInstanceOf(ContentPolicyError);
  });

  it("'gemini': the image of an image-capable model", async () => {
    await using server = await startFakeModelServer({ provider: 'gemini' });
    await using images = createImageModel('gemini', {
      model: 'gemini-2.5-flash-image',
      baseURL: server.baseURL,
      apiKey: 'k',
    });
    const result = await images.generate('a comet');
    expect(result.images).toHaveLength(1);
    expect(result.parts.some((p) => p.text === 'Here is your picture.')).toBe(true);
    expect(server.requests[0]!.body).toMatchObject({ generationConfig: { responseModalities: ['TEXT', 'IMAGE'] } });
  });

  it("'fake': deterministic PNGs with previews; close() refuses new calls", async () => {
    const images = createImageModel('fake', { partialImages: 2 });
    const first = await images.generate('same prompt', { n: 2 });
    const again = await images.generate('same prompt', { n: 2 });
    expect(first.parts.map((p) => p.substream)).toEqual(['preview', 'preview', '', 'preview', 'preview', '', 'status']);
    expect(Buffer.from(first.images[1]!.data).equals(Buffer.from(again.images[1]!.data))).toBe(true);
    await images.close();
    expect(() => images.stream('x')).toThrow(ClosedError);
  });
});
