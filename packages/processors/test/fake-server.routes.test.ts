// The fake model server's routes as the services document them: bodies for
// requests that do not stream (OpenAI, Anthropic, Ollama's `stream: false`),
// Gemini's generateContent, its JSON-array stream without alt=sse and its v1
// path, Gemini keys by header or query, and `n` choices.

import { afterEach, describe, expect, it } from 'vitest';
import { type FakeModelServer, startFakeModelServer } from '../src/testing/fake-server.ts';
import type { FakeProvider } from '../src/testing/wire.ts';

let server: FakeModelServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(provider: FakeProvider, options: Record<string, unknown> = {}) {
  server = await startFakeModelServer({ provider, reply: 'Hi there', ...options });
  return server;
}

async function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${server!.origin}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: response.status, type: response.headers.get('content-type') ?? '', text: await response.text() };
}

const anthropicHeaders = { 'anthropic-version': '2023-06-01' };

describe('fake server: requests that do not stream get one JSON body', () => {
  it('OpenAI chat completions without stream: a chat.completion object with message and usage', async () => {
    await start('openai');
    const reply = await post('/v1/chat/completions', {
      model: 'gpt-x',
      messages: [{ role: 'user', content: 'Hello' }],
    });
    expect(reply.status).toBe(200);
    expect(reply.type).toContain('application/json');
    const body = JSON.parse(reply.text);
    expect(body).toMatchObject({
      object: 'chat.completion',
      model: 'gpt-x',
      choices: [{ index: 0, message: { role: 'assistant', content: 'Hi there' }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 },
    });
  });

  it('OpenAI stream: false with tools: tool_calls with JSON-string arguments and finish tool_calls', async () => {
    await start('openai', { reply: { toolCalls: [{ id: 'call_1', name: 'f', args: { a: 1 } }] } });
    const body = JSON.parse(
      (await post('/v1/chat/completions', { model: 'm', stream: false, messages: [{ role: 'user', content: 'x' }] }))
        .text,
    );
    expect(body.choices[0]).toMatchObject({
      message: {
        content: null,
        tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }],
      },
      finish_reason: 'tool_calls',
    });
  });

  it('Anthropic without stream: a message object with content blocks and usage', async () => {
    await start('anthropic');
    const body = JSON.parse(
      (
        await post(
          '/v1/messages',
          { model: 'claude-x', max_tokens: 10, messages: [{ role: 'user', content: 'Hello' }] },
          anthropicHeaders,
        )
      ).text,
    );
    expect(body).toMatchObject({
      type: 'message',
      role: 'assistant',
      model: 'claude-x',
      content: [{ type: 'text', text: 'Hi there' }],
      stop_reason: 'end_turn',
      usage: { input_tokens: 1, output_tokens: 2 },
    });
  });

  it('Ollama streams NDJSON by default and answers stream: false with one done object', async () => {
    await start('ollama');
    const streamed = await post('/api/chat', { model: 'llama', messages: [{ role: 'user', content: 'Hello' }] });
    expect(streamed.type).toContain('application/x-ndjson');
    expect(streamed.text.trim().split('\n').length).toBeGreaterThan(1);
    const whole = await post('/api/chat', {
      model: 'llama',
      stream: false,
      messages: [{ role: 'user', content: 'Hello' }],
    });
    expect(whole.type).toContain('application/json');
    expect(JSON.parse(whole.text)).toMatchObject({
      model: 'llama',
      message: { role: 'assistant', content: 'Hi there' },
      done: true,
      done_reason: 'stop',
      prompt_eval_count: 1,
      eval_count: 2,
    });
  });

  it('Responses API without stream: a response object with output items and usage', async () => {
    await start('openai', { reply: { reasoning: 'Hmm', text: 'Four' } });
    const body = JSON.parse((await post('/v1/responses', { model: 'gpt-5', input: 'What is 2+2?' })).text);
    expect(body).toMatchObject({
      object: 'response',
      status: 'completed',
      model: 'gpt-5',
      output: [
        { type: 'reasoning', summary: [{ type: 'summary_text', text: 'Hmm' }] },
        { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Four' }] },
      ],
      usage: { input_tokens: 3, output_tokens: 2, total_tokens: 5 },
    });
    expect(server!.requests[0].messages).toEqual([{ role: 'user', text: 'What is 2+2?' }]);
  });
});

describe('fake server: Gemini routes and keys', () => {
  const request = { contents: [{ role: 'user', parts: [{ text: 'Hello' }] }] };

  it('answers :generateContent on v1beta and v1 with one GenerateContentResponse', async () => {
    await start('gemini');
    for (const version of ['v1beta', 'v1']) {
      const reply = await post(`/${version}/models/gemini-x:generateContent`, request);
      expect(reply.status).toBe(200);
      expect(JSON.parse(reply.text)).toMatchObject({
        candidates: [{ content: { role: 'model', parts: [{ text: 'Hi there' }] }, finishReason: 'STOP' }],
        usageMetadata: { promptTokenCount: 1, candidatesTokenCount: 2, totalTokenCount: 3 },
        modelVersion: 'gemini-x',
      });
    }
  });

  it('streams :streamGenerateContent without alt=sse as a JSON array, one element per chunk', async () => {
    await start('gemini');
    const reply = await post('/v1beta/models/gemini-x:streamGenerateContent', request);
    expect(reply.type).toContain('application/json');
    expect(reply.text.startsWith('[{')).toBe(true);
    const elements = JSON.parse(reply.text) as { candidates: { content: { parts: { text: string }[] } }[] }[];
    expect(elements.map((e) => e.candidates[0].content.parts[0].text)).toEqual(['Hi', ' there']);
  });

  it('puts a mid-stream error into the JSON array and still closes it', async () => {
    await start('gemini', { streamError: { after: 1, status: 503, type: 'UNAVAILABLE', message: 'overloaded' } });
    const elements = JSON.parse((await post('/v1/models/gemini-x:streamGenerateContent', request)).text);
    expect(elements).toHaveLength(2);
    expect(elements[1]).toEqual({ error: { code: 503, message: 'overloaded', status: 'UNAVAILABLE' } });
  });

  it('accepts the key as x-goog-api-key or ?key=, and refuses a wrong one with 401', async () => {
    await start('gemini', { apiKey: 'g-key' });
    expect((await post('/v1beta/models/m:generateContent', request, { 'x-goog-api-key': 'g-key' })).status).toBe(200);
    expect((await post('/v1beta/models/m:generateContent?key=g-key', request)).status).toBe(200);
    const wrong = await post('/v1beta/models/m:generateContent?key=nope', request);
    expect(wrong.status).toBe(401);
    expect(JSON.parse(wrong.text).error.status).toBe('UNAUTHENTICATED');
  });

  it('answers an unknown method with 404', async () => {
    await start('gemini');
    expect((await post('/v1beta/models/m:embedText', request)).status).toBe(404);
  });
});

describe('fake server: n choices', () => {
  it('gives n choices in a whole body and in a stream (each chunk once per choice index)', async () => {
    await start('openai');
    const whole = JSON.parse(
      (await post('/v1/chat/completions', { model: 'm', n: 2, messages: [{ role: 'user', content: 'x' }] })).text,
    );
    expect(
      whole.choices.map((c: { index: number; message: { content: string } }) => [c.index, c.message.content]),
    ).toEqual([
      [0, 'Hi there'],
      [1, 'Hi there'],
    ]);
    const streamed = await post('/v1/chat/completions', {
      model: 'm',
      n: 2,
      stream: true,
      messages: [{ role: 'user', content: 'x' }],
    });
    const text = ['', ''];
    for (const line of streamed.text.split('\n')) {
      if (!line.startsWith('data: {')) continue;
      for (const choice of JSON.parse(line.slice(6)).choices) text[choice.index] += choice.delta.content ?? '';
    }
    expect(text).toEqual(['Hi there', 'Hi there']);
  });
});
