// The official `openai` client (6.x) against the fake OpenAI server: chat
// completions streamed and whole, tools, usage, n choices, the Responses API
// streamed and whole, 429 with Retry-After, 503, a mid-stream error, and an
// abort that closes the connection.

import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { type FakeModelServer, type FakeModelServerOptions, startFakeModelServer } from '../src/testing/fake-server.ts';

let server: FakeModelServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(options: Omit<FakeModelServerOptions, 'provider'> = {}) {
  server = await startFakeModelServer({ provider: 'openai', apiKey: 'sk-test', reply: 'Hello from fake', ...options });
  return new OpenAI({ apiKey: 'sk-test', baseURL: server.baseURL, maxRetries: 0 });
}

const messages = [{ role: 'user' as const, content: 'Say hello' }];

describe('openai SDK: chat completions', () => {
  it('streams deltas and the usage chunk (stream_options.include_usage)', async () => {
    const client = await start();
    const stream = await client.chat.completions.create({
      model: 'gpt-test',
      messages,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let usage: OpenAI.CompletionUsage | undefined | null;
    let finish: string | null = null;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      usage = chunk.usage ?? usage;
    }
    expect(text).toBe('Hello from fake');
    expect(finish).toBe('stop');
    expect(usage).toEqual({ prompt_tokens: 2, completion_tokens: 3, total_tokens: 5 });
  });

  it('resolves create() without stream to a chat.completion object', async () => {
    const client = await start();
    const completion = await client.chat.completions.create({ model: 'gpt-test', messages });
    expect(completion.choices[0].message.content).toBe('Hello from fake');
    expect(completion.usage?.total_tokens).toBe(5);
    expect(server!.requests[0].body).not.toHaveProperty('stream');
  });

  it('gives n: 2 choices', async () => {
    const client = await start();
    const completion = await client.chat.completions.create({ model: 'gpt-test', messages, n: 2 });
    expect(completion.choices.map((c) => c.index)).toEqual([0, 1]);
  });

  it('returns tool calls, streamed (fragments by index) and whole', async () => {
    const client = await start({ reply: { toolCalls: [{ id: 'call_1', name: 'weather', args: { city: 'Oslo' } }] } });
    const tools: OpenAI.ChatCompletionTool[] = [
      { type: 'function', function: { name: 'weather', parameters: { type: 'object', properties: {} } } },
    ];
    const whole = await client.chat.completions.create({ model: 'gpt-test', messages, tools });
    const call = whole.choices[0].message.tool_calls?.[0];
    expect(call?.type === 'function' && call.function).toEqual({ name: 'weather', arguments: '{"city":"Oslo"}' });
    expect(whole.choices[0].finish_reason).toBe('tool_calls');
    const runner = client.chat.completions.stream({ model: 'gpt-test', messages, tools });
    const final = await runner.finalChatCompletion();
    const streamed = final.choices[0].message.tool_calls?.[0];
    expect(streamed?.type === 'function' && JSON.parse(streamed.function.arguments)).toEqual({ city: 'Oslo' });
  });

  it('retries a 429 after its Retry-After, then succeeds', async () => {
    await start({ fail: { status: 429, headers: { 'retry-after': '0', 'retry-after-ms': '5' } } });
    const client = new OpenAI({ apiKey: 'sk-test', baseURL: server!.baseURL, maxRetries: 1 });
    const completion = await client.chat.completions.create({ model: 'gpt-test', messages });
    expect(completion.choices[0].message.content).toBe('Hello from fake');
    expect(server!.requests).toHaveLength(2);
  });

  it('raises RateLimitError with the rate_limit_exceeded code and the Retry-After header when out of retries', async () => {
    const client = await start({ fail: { status: 429, headers: { 'retry-after': '7' } } });
    const error = await client.chat.completions.create({ model: 'gpt-test', messages }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    expect((error as InstanceType<typeof OpenAI.RateLimitError>).code).toBe('rate_limit_exceeded');
    expect((error as InstanceType<typeof OpenAI.RateLimitError>).headers.get('retry-after')).toBe('7');
  });

  it('raises InternalServerError for a 503', async () => {
    const client = await start({ fail: { status: 503 } });
    const error = await client.chat.completions.create({ model: 'gpt-test', messages }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.InternalServerError);
    expect((error as InstanceType<typeof OpenAI.APIError>).status).toBe(503);
  });

  it('throws the mid-stream error event while iterating, after the first tokens', async () => {
    const client = await start({ streamError: { after: 1, message: 'The server had an error' } });
    const stream = await client.chat.completions.create({ model: 'gpt-test', messages, stream: true });
    const seen: string[] = [];
    const error = await (async () => {
      for await (const chunk of stream) seen.push(chunk.choices[0]?.delta.content ?? '');
    })().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect((error as Error).message).toContain('The server had an error');
    expect(seen.join('')).toBe('Hello');
  });

  it('stops the request on abort: the iteration ends early and the server sees the connection close', async () => {
    // The SDK's Stream ends its iteration quietly when its own signal aborts (it does not rethrow).
    const client = await start({ holdAfter: 1 });
    const controller = new AbortController();
    const stream = await client.chat.completions.create(
      { model: 'gpt-test', messages, stream: true },
      { signal: controller.signal },
    );
    let text = '';
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      if (text !== '') controller.abort();
    }
    expect(text).toBe('Hello');
    expect(await server!.requests[0].closed).toEqual({ finished: false });
    expect(server!.requests[0].tokensSent).toBe(1);
  });

  it('is refused with AuthenticationError for a wrong key', async () => {
    await start();
    const client = new OpenAI({ apiKey: 'wrong', baseURL: server!.baseURL, maxRetries: 0 });
    await expect(client.chat.completions.create({ model: 'gpt-test', messages })).rejects.toBeInstanceOf(
      OpenAI.AuthenticationError,
    );
  });
});

describe('openai SDK: Responses API', () => {
  it('streams output_text deltas, reasoning summary deltas and response.completed with usage', async () => {
    const client = await start({ reply: { reasoning: 'Thinking hard', text: 'Four it is' } });
    const stream = await client.responses.create({ model: 'gpt-5', input: 'What is 2+2?', stream: true });
    let text = '';
    let reasoning = '';
    let usage: OpenAI.Responses.ResponseUsage | undefined;
    for await (const event of stream) {
      if (event.type === 'response.output_text.delta') text += event.delta;
      if (event.type === 'response.reasoning_summary_text.delta') reasoning += event.delta;
      if (event.type === 'response.completed') usage = event.response.usage;
    }
    expect(text).toBe('Four it is');
    expect(reasoning).toBe('Thinking hard');
    expect(usage).toMatchObject({ input_tokens: 3, output_tokens: 5, total_tokens: 8 });
  });

  it('resolves a whole response whose output_text and function calls the SDK reads', async () => {
    const client = await start({
      reply: { text: 'Calling.', toolCalls: [{ id: 'call_9', name: 'f', args: { x: 1 } }] },
    });
    const response = await client.responses.create({
      model: 'gpt-5',
      input: [{ role: 'user', content: 'Go' }],
      tools: [{ type: 'function', name: 'f', parameters: { type: 'object', properties: {} }, strict: false }],
    });
    expect(response.output_text).toBe('Calling.');
    const call = response.output.find((item) => item.type === 'function_call');
    expect(call).toMatchObject({ call_id: 'call_9', name: 'f', arguments: '{"x":1}' });
  });

  it("assembles streamed function call arguments with the SDK's stream helper", async () => {
    const client = await start({
      reply: { toolCalls: [{ id: 'call_9', name: 'f', args: { city: 'Oslo', days: 3 } }] },
    });
    const final = await client.responses
      .stream({
        model: 'gpt-5',
        input: 'Go',
        tools: [{ type: 'function', name: 'f', parameters: { type: 'object', properties: {} }, strict: false }],
      })
      .finalResponse();
    const call = final.output.find((item) => item.type === 'function_call');
    expect(call && 'arguments' in call && JSON.parse(call.arguments)).toEqual({ city: 'Oslo', days: 3 });
  });

  it('delivers a mid-stream error event to the consumer', async () => {
    const client = await start({ streamError: { after: 1, type: 'server_error', message: 'broke' } });
    const stream = await client.responses.create({ model: 'gpt-5', input: 'Hi', stream: true });
    const types: string[] = [];
    let message = '';
    for await (const event of stream) {
      types.push(event.type);
      if (event.type === 'error') message = event.message;
    }
    expect(types).toContain('response.output_text.delta');
    expect(types.at(-1)).toBe('error');
    expect(message).toBe('broke');
  });
});
