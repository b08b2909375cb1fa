// The Vercel AI SDK (`ai` 6 with `@ai-sdk/openai`, `@ai-sdk/anthropic` and
// `@ai-sdk/google` 3.x) against the fake model servers: streamText and
// generateText through the OpenAI provider's default Responses API and its
// chat model, Anthropic and Google; tools, usage, 429 with Retry-After, 503,
// a mid-stream error, and an abort.

import { createAnthropic } from '@ai-sdk/anthropic';
import { createGoogleGenerativeAI } from '@ai-sdk/google';
import { createOpenAI } from '@ai-sdk/openai';
import { APICallError, generateText, jsonSchema, type LanguageModel, streamText, tool } from 'ai';
import { afterEach, describe, expect, it } from 'vitest';
import { type FakeModelServer, type FakeModelServerOptions, startFakeModelServer } from '../src/testing/fake-server.ts';
import type { FakeProvider } from '../src/testing/wire.ts';

// The SDK warns on unknown model names (ours are fake); the warnings would only clutter the output.
(globalThis as Record<string, unknown>).AI_SDK_LOG_WARNINGS = false;

let server: FakeModelServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

type Flavour = 'openai-responses' | 'openai-chat' | 'anthropic' | 'google';
const providerOf: Record<Flavour, FakeProvider> = {
  'openai-responses': 'openai',
  'openai-chat': 'openai',
  anthropic: 'anthropic',
  google: 'gemini',
};

async function start(flavour: Flavour, options: Omit<FakeModelServerOptions, 'provider'> = {}): Promise<LanguageModel> {
  server = await startFakeModelServer({
    provider: providerOf[flavour],
    apiKey: 'k-test',
    reply: 'Hello from fake',
    ...options,
  });
  switch (flavour) {
    case 'openai-responses':
      return createOpenAI({ apiKey: 'k-test', baseURL: server.baseURL })('gpt-test');
    case 'openai-chat':
      return createOpenAI({ apiKey: 'k-test', baseURL: server.baseURL }).chat('gpt-test');
    case 'anthropic':
      return createAnthropic({ apiKey: 'k-test', baseURL: `${server.origin}/v1` })('claude-test');
    case 'google':
      return createGoogleGenerativeAI({ apiKey: 'k-test', baseURL: `${server.origin}/v1beta` })('gemini-test');
  }
}

const paths: Record<Flavour, string> = {
  'openai-responses': '/v1/responses',
  'openai-chat': '/v1/chat/completions',
  anthropic: '/v1/messages',
  google: '/v1beta/models/gemini-test:',
};

const weather = tool({
  description: 'Weather of a city',
  inputSchema: jsonSchema<{ city: string }>({
    type: 'object',
    properties: { city: { type: 'string' } },
    required: ['city'],
  }),
});

describe.each(['openai-responses', 'openai-chat', 'anthropic', 'google'] as const)('ai SDK, %s', (flavour) => {
  it('streamText streams the text and reports usage and finish reason', async () => {
    const model = await start(flavour);
    const result = streamText({ model, prompt: 'Say hello', maxRetries: 0 });
    const deltas: string[] = [];
    for await (const delta of result.textStream) deltas.push(delta);
    expect(deltas.join('')).toBe('Hello from fake');
    expect(deltas.length).toBeGreaterThan(1);
    expect(await result.finishReason).toBe('stop');
    const usage = await result.usage;
    expect(usage.inputTokens).toBe(2);
    expect(usage.outputTokens).toBe(3);
    expect(server!.requests[0].path.startsWith(paths[flavour])).toBe(true);
  });

  it('generateText gets the whole answer', async () => {
    const model = await start(flavour);
    const result = await generateText({ model, prompt: 'Say hello', maxRetries: 0 });
    expect(result.text).toBe('Hello from fake');
    expect(result.usage.totalTokens).toBe(5);
  });

  it('returns a tool call with parsed input', async () => {
    const model = await start(flavour, {
      reply: { toolCalls: [{ id: 'call_1', name: 'weather', args: { city: 'Oslo' } }] },
    });
    const result = await generateText({ model, prompt: 'Weather?', tools: { weather }, maxRetries: 0 });
    expect(result.toolCalls).toMatchObject([{ toolName: 'weather', input: { city: 'Oslo' } }]);
    expect(result.finishReason).toBe('tool-calls');
  });

  it('retries a 429 after its Retry-After, then succeeds', async () => {
    const model = await start(flavour, {
      fail: { status: 429, headers: { 'retry-after-ms': '5', 'retry-after': '0' } },
    });
    const result = await generateText({ model, prompt: 'Say hello', maxRetries: 1 });
    expect(result.text).toBe('Hello from fake');
    expect(server!.requests).toHaveLength(2);
  });

  it('raises a 503 as APICallError with its status', async () => {
    const model = await start(flavour, { fail: { status: 503 } });
    const error = await generateText({ model, prompt: 'Say hello', maxRetries: 0 }).catch((e: unknown) => e);
    expect(APICallError.isInstance(error)).toBe(true);
    expect((error as APICallError).statusCode).toBe(503);
  });

  it('surfaces a mid-stream error in the full stream after the first text', async () => {
    const model = await start(flavour, { streamError: { after: 1, status: 500, message: 'broke midway' } });
    const result = streamText({ model, prompt: 'Say hello', maxRetries: 0, onError: () => {} });
    const kinds: string[] = [];
    let text = '';
    for await (const event of result.fullStream) {
      kinds.push(event.type);
      if (event.type === 'text-delta') text += event.text;
    }
    expect(text).toBe('Hello');
    expect(kinds).toContain('error');
  });

  it('aborts: the stream ends early and the server sees the connection close', async () => {
    const model = await start(flavour, { holdAfter: 1 });
    const controller = new AbortController();
    const result = streamText({ model, prompt: 'Say hello', maxRetries: 0, abortSignal: controller.signal });
    let text = '';
    await (async () => {
      for await (const delta of result.textStream) {
        text += delta;
        controller.abort();
      }
    })().catch(() => {});
    expect(text).toBe('Hello');
    expect(await server!.requests[0].closed).toEqual({ finished: false });
  });
});
