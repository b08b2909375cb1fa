// The official `ollama` client (0.6.x) against the fake Ollama server: chat
// whole (the client's default `stream: false`) and streamed, tools, usage
// counts, 429 and 503 errors, a mid-stream error line, and an abort.

import { Ollama } from 'ollama';
import { afterEach, describe, expect, it } from 'vitest';
import { type FakeModelServer, type FakeModelServerOptions, startFakeModelServer } from '../src/testing/fake-server.ts';

let server: FakeModelServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(options: Omit<FakeModelServerOptions, 'provider'> = {}) {
  server = await startFakeModelServer({ provider: 'ollama', reply: 'Hello from fake', ...options });
  return new Ollama({ host: server.baseURL });
}

const messages = [{ role: 'user', content: 'Say hello' }];

describe('ollama client against the fake server', () => {
  it('gets one whole reply from chat() (which sends stream: false) with the eval counts', async () => {
    const client = await start();
    const reply = await client.chat({ model: 'llama-test', messages });
    expect(server!.requests[0].body).toMatchObject({ stream: false });
    expect(reply.message).toMatchObject({ role: 'assistant', content: 'Hello from fake' });
    expect(reply).toMatchObject({ done: true, done_reason: 'stop', prompt_eval_count: 2, eval_count: 3 });
  });

  it('streams NDJSON chunks with stream: true, the last one done with the counts', async () => {
    const client = await start();
    const stream = await client.chat({ model: 'llama-test', messages, stream: true });
    let text = '';
    let last: { done: boolean; eval_count?: number } | undefined;
    for await (const chunk of stream) {
      text += chunk.message.content;
      last = chunk;
    }
    expect(text).toBe('Hello from fake');
    expect(last).toMatchObject({ done: true, eval_count: 3 });
  });

  it('returns tool calls with object arguments, whole and streamed', async () => {
    const client = await start({ reply: { toolCalls: [{ name: 'weather', args: { city: 'Oslo' } }] } });
    const tools = [{ type: 'function', function: { name: 'weather', parameters: { type: 'object', properties: {} } } }];
    const whole = await client.chat({ model: 'llama-test', messages, tools });
    expect(whole.message.tool_calls?.[0].function).toMatchObject({ name: 'weather', arguments: { city: 'Oslo' } });
    const calls: unknown[] = [];
    for await (const chunk of await client.chat({ model: 'llama-test', messages, tools, stream: true }))
      calls.push(...(chunk.message.tool_calls ?? []));
    expect(calls).toMatchObject([{ function: { name: 'weather', arguments: { city: 'Oslo' } } }]);
  });

  it('raises ResponseError with status 429 (the client does not retry) and keeps the server message', async () => {
    const client = await start({
      fail: { status: 429, headers: { 'retry-after': '0' }, message: 'too many requests' },
    });
    const error = await client.chat({ model: 'llama-test', messages }).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'ResponseError', status_code: 429, error: 'too many requests' });
    expect(server!.requests).toHaveLength(1);
  });

  it('raises ResponseError with status 503', async () => {
    const client = await start({ fail: { status: 503, message: 'server busy' } });
    await expect(client.chat({ model: 'llama-test', messages })).rejects.toMatchObject({ status_code: 503 });
  });

  it('throws the error line that arrives mid-stream', async () => {
    const client = await start({ streamError: { after: 1, message: 'model runner crashed' } });
    const seen: string[] = [];
    const error = await (async () => {
      for await (const chunk of await client.chat({ model: 'llama-test', messages, stream: true }))
        seen.push(chunk.message.content);
    })().catch((e: unknown) => e);
    expect((error as Error).message).toContain('model runner crashed');
    expect(seen).toEqual(['Hello']);
  });

  it("aborts a stream with the iterator's abort(): the server sees the connection close", async () => {
    const client = await start({ holdAfter: 1 });
    const stream = await client.chat({ model: 'llama-test', messages, stream: true });
    const error = await (async () => {
      for await (const chunk of stream) if (chunk.message.content) stream.abort();
    })().catch((e: unknown) => e);
    expect((error as Error).name).toBe('AbortError');
    expect(await server!.requests[0].closed).toEqual({ finished: false });
  });
});
