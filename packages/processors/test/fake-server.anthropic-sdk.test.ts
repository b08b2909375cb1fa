// The official `@anthropic-ai/sdk` client (1.x) against the fake Anthropic
// server: messages streamed and whole, thinking, tools, usage, both ways of
// sending the key, 429 with Retry-After, 503, a mid-stream error event, and an
// abort that closes the connection.

import Anthropic from '@anthropic-ai/sdk';
import { afterEach, describe, expect, it } from 'vitest';
import { type FakeModelServer, type FakeModelServerOptions, startFakeModelServer } from '../src/testing/fake-server.ts';

let server: FakeModelServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(options: Omit<FakeModelServerOptions, 'provider'> = {}) {
  server = await startFakeModelServer({
    provider: 'anthropic',
    apiKey: 'ak-test',
    reply: 'Hello from fake',
    ...options,
  });
  return new Anthropic({ apiKey: 'ak-test', baseURL: server.baseURL, maxRetries: 0 });
}

const request = { model: 'claude-test', max_tokens: 100, messages: [{ role: 'user' as const, content: 'Say hello' }] };

describe('@anthropic-ai/sdk against the fake server', () => {
  it('streams text deltas and reports usage in the final message', async () => {
    const client = await start();
    const stream = client.messages.stream(request);
    let text = '';
    stream.on('text', (delta) => {
      text += delta;
    });
    const final = await stream.finalMessage();
    expect(text).toBe('Hello from fake');
    expect(final.stop_reason).toBe('end_turn');
    expect(final.usage).toMatchObject({ input_tokens: 2, output_tokens: 3 });
  });

  it('resolves create() without stream to a whole message (thinking with its signature, then text)', async () => {
    const client = await start({ reply: { reasoning: 'Let me think', text: 'Hi.' } });
    const message = await client.messages.create(request);
    expect(message.content).toEqual([
      { type: 'thinking', thinking: 'Let me think', signature: 'c2lnbmF0dXJl' },
      { type: 'text', text: 'Hi.' },
    ]);
    expect(message.usage.output_tokens).toBe(4);
  });

  it('returns tool_use blocks with parsed input, streamed and whole', async () => {
    const client = await start({ reply: { toolCalls: [{ id: 'toolu_1', name: 'weather', args: { city: 'Oslo' } }] } });
    const tools = [{ name: 'weather', input_schema: { type: 'object' as const, properties: {} } }];
    const whole = await client.messages.create({ ...request, tools });
    expect(whole.content).toEqual([{ type: 'tool_use', id: 'toolu_1', name: 'weather', input: { city: 'Oslo' } }]);
    expect(whole.stop_reason).toBe('tool_use');
    const streamed = await client.messages.stream({ ...request, tools }).finalMessage();
    expect(streamed.content[0]).toMatchObject({ type: 'tool_use', input: { city: 'Oslo' } });
  });

  it('accepts the key as Authorization: Bearer (authToken) as well as x-api-key', async () => {
    await start();
    const client = new Anthropic({ apiKey: null, authToken: 'ak-test', baseURL: server!.baseURL, maxRetries: 0 });
    const message = await client.messages.create(request);
    expect(message.content[0]).toMatchObject({ text: 'Hello from fake' });
    expect(server!.requests[0].headers.authorization).toBe('Bearer ak-test');
  });

  it('retries a 429 after its Retry-After, then succeeds', async () => {
    await start({ fail: { status: 429, headers: { 'retry-after': '0', 'retry-after-ms': '5' } } });
    const client = new Anthropic({ apiKey: 'ak-test', baseURL: server!.baseURL, maxRetries: 1 });
    const message = await client.messages.create(request);
    expect(message.content[0]).toMatchObject({ text: 'Hello from fake' });
    expect(server!.requests).toHaveLength(2);
  });

  it('raises RateLimitError with the Retry-After header and rate_limit_error body when out of retries', async () => {
    const client = await start({ fail: { status: 429, headers: { 'retry-after': '3' } } });
    const error = await client.messages.create(request).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Anthropic.RateLimitError);
    expect((error as InstanceType<typeof Anthropic.APIError>).headers?.get('retry-after')).toBe('3');
    expect((error as InstanceType<typeof Anthropic.APIError>).error).toMatchObject({
      error: { type: 'rate_limit_error' },
    });
  });

  it('raises InternalServerError for a 503', async () => {
    const client = await start({ fail: { status: 503 } });
    const error = await client.messages.create(request).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Anthropic.InternalServerError);
    expect((error as InstanceType<typeof Anthropic.APIError>).status).toBe(503);
  });

  it('throws the overloaded_error event that arrives mid-stream', async () => {
    const client = await start({ streamError: { after: 1 } });
    const stream = await client.messages.create({ ...request, stream: true });
    const seen: string[] = [];
    const error = await (async () => {
      for await (const event of stream)
        if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') seen.push(event.delta.text);
    })().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Anthropic.APIError);
    expect((error as Error).message).toContain('overloaded_error');
    expect(seen).toEqual(['Hello']);
  });

  it('aborts a stream: the SDK rejects with APIUserAbortError and the server sees the connection close', async () => {
    const client = await start({ holdAfter: 1 });
    const stream = client.messages.stream(request);
    stream.on('text', () => stream.abort());
    await expect(stream.finalMessage()).rejects.toBeInstanceOf(Anthropic.APIUserAbortError);
    expect(await server!.requests[0].closed).toEqual({ finished: false });
  });

  it('is refused with 400 invalid_request_error for a request without max_tokens', async () => {
    const client = await start();
    const { max_tokens: _omit, ...rest } = request;
    const error = await client.messages.create(rest as never).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Anthropic.BadRequestError);
    expect((error as Error).message).toContain('max_tokens');
  });
});
