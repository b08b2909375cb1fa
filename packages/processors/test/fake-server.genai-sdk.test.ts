// The official `@google/genai` client (2.x) against the fake Gemini server:
// generateContent and generateContentStream on v1beta and v1, function calls,
// usage metadata, the key header, 429 (retried with the client's retryOptions,
// or raised), 503, a mid-stream error, and an abort.

import { ApiError, GoogleGenAI } from '@google/genai';
import { afterEach, describe, expect, it } from 'vitest';
import { type FakeModelServer, type FakeModelServerOptions, startFakeModelServer } from '../src/testing/fake-server.ts';

let server: FakeModelServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(options: Omit<FakeModelServerOptions, 'provider'> = {}, apiVersion?: string) {
  server = await startFakeModelServer({ provider: 'gemini', apiKey: 'g-test', reply: 'Hello from fake', ...options });
  return new GoogleGenAI({ apiKey: 'g-test', httpOptions: { baseUrl: server.baseURL, apiVersion } });
}

const contents = 'Say hello';

describe('@google/genai against the fake server', () => {
  it('generateContent: text, finish reason and usage metadata, with the key in x-goog-api-key', async () => {
    const client = await start();
    const response = await client.models.generateContent({ model: 'gemini-test', contents });
    expect(response.text).toBe('Hello from fake');
    expect(response.candidates?.[0].finishReason).toBe('STOP');
    expect(response.usageMetadata).toMatchObject({ promptTokenCount: 2, candidatesTokenCount: 3, totalTokenCount: 5 });
    expect(server!.requests[0].path).toBe('/v1beta/models/gemini-test:generateContent');
    expect(server!.requests[0].headers['x-goog-api-key']).toBe('g-test');
  });

  it('generateContentStream: one chunk per token, the last with the finish reason', async () => {
    const client = await start();
    let text = '';
    let finish: string | undefined;
    for await (const chunk of await client.models.generateContentStream({ model: 'gemini-test', contents })) {
      text += chunk.text ?? '';
      finish = chunk.candidates?.[0].finishReason ?? finish;
    }
    expect(text).toBe('Hello from fake');
    expect(finish).toBe('STOP');
    expect(server!.requests[0].path).toBe('/v1beta/models/gemini-test:streamGenerateContent?alt=sse');
  });

  it('speaks the v1 path when apiVersion is v1', async () => {
    const client = await start({}, 'v1');
    const response = await client.models.generateContent({ model: 'gemini-test', contents });
    expect(response.text).toBe('Hello from fake');
    expect(server!.requests[0].path).toBe('/v1/models/gemini-test:generateContent');
  });

  it('returns function calls, whole and streamed', async () => {
    const client = await start({ reply: { toolCalls: [{ name: 'weather', args: { city: 'Oslo' } }] } });
    const config = {
      tools: [{ functionDeclarations: [{ name: 'weather', parameters: { type: 'OBJECT' as never, properties: {} } }] }],
    };
    const whole = await client.models.generateContent({ model: 'gemini-test', contents, config });
    expect(whole.functionCalls).toEqual([{ name: 'weather', args: { city: 'Oslo' } }]);
    const calls: unknown[] = [];
    for await (const chunk of await client.models.generateContentStream({ model: 'gemini-test', contents, config }))
      calls.push(...(chunk.functionCalls ?? []));
    expect(calls).toEqual([{ name: 'weather', args: { city: 'Oslo' } }]);
  });

  it('retries a 429 with retryOptions, then succeeds', async () => {
    await start({ fail: { status: 429, headers: { 'retry-after': '0' } } });
    const client = new GoogleGenAI({
      apiKey: 'g-test',
      httpOptions: { baseUrl: server!.baseURL, retryOptions: { attempts: 2, initialDelay: 0.001, maxDelay: 0.002 } },
    });
    const response = await client.models.generateContent({ model: 'gemini-test', contents });
    expect(response.text).toBe('Hello from fake');
    expect(server!.requests).toHaveLength(2);
  });

  it('raises ApiError 429 RESOURCE_EXHAUSTED without retries', async () => {
    const client = await start({ fail: { status: 429, headers: { 'retry-after': '0' } } });
    const error = await client.models.generateContent({ model: 'gemini-test', contents }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(429);
    expect((error as Error).message).toContain('RESOURCE_EXHAUSTED');
  });

  it('raises ApiError 503 UNAVAILABLE', async () => {
    const client = await start({ fail: { status: 503 } });
    const error = await client.models.generateContent({ model: 'gemini-test', contents }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(503);
  });

  it('raises a wrong key as ApiError 401', async () => {
    await start();
    const client = new GoogleGenAI({ apiKey: 'wrong', httpOptions: { baseUrl: server!.baseURL } });
    const error = await client.models.generateContent({ model: 'gemini-test', contents }).catch((e: unknown) => e);
    expect((error as ApiError).status).toBe(401);
  });

  it('throws the error object that arrives mid-stream, after the first chunk', async () => {
    const client = await start({ streamError: { after: 1, status: 500, message: 'internal mishap' } });
    const seen: string[] = [];
    const error = await (async () => {
      for await (const chunk of await client.models.generateContentStream({ model: 'gemini-test', contents }))
        seen.push(chunk.text ?? '');
    })().catch((e: unknown) => e);
    expect((error as Error).message).toContain('internal mishap');
    expect(seen).toEqual(['Hello']);
  });

  it('aborts a stream with config.abortSignal: the iteration stops and the server sees the connection close', async () => {
    const client = await start({ holdAfter: 1 });
    const controller = new AbortController();
    const stream = await client.models.generateContentStream({
      model: 'gemini-test',
      contents,
      config: { abortSignal: controller.signal },
    });
    const seen: string[] = [];
    await (async () => {
      for await (const chunk of stream) {
        seen.push(chunk.text ?? '');
        controller.abort();
      }
    })().catch(() => {});
    expect(seen).toEqual(['Hello']);
    expect(await server!.requests[0].closed).toEqual({ finished: false });
  });
});
