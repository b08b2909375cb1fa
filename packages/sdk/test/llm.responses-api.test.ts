// createLLM('openai', { api: 'responses' }): the OpenAI Responses API behind
// the usual LLM surface (generate, stream, sessions with tool calls, per-call
// options), and the clear errors for what it cannot do.

import { TOOL_CALL_MIMETYPE, textPart } from '@sluice/core';
import { describe, expect, it } from 'vitest';
import { ConfigError, createLLM } from '../src/index.ts';
import { modelServer } from './helpers.ts';

describe("createLLM('openai', { api: 'responses' })", () => {
  it('generate() posts to /v1/responses and returns text, usage and finish reason', async () => {
    const server = await modelServer({ provider: 'openai', reply: 'Four it is.', apiKey: 'key-1' });
    const llm = createLLM('openai', {
      model: 'gpt-5',
      baseURL: server.baseURL,
      apiKey: 'key-1',
      api: 'responses',
      env: {},
    });
    const result = await llm.generate('What is 2+2?', { maxTokens: 20 });
    expect(result.text).toBe('Four it is.');
    expect(result.finishReason).toBe('stop');
    expect(result.usage).toMatchObject({ inputTokens: 3, outputTokens: 3, totalTokens: 6 });
    expect(server.requests[0].path).toBe('/v1/responses');
    expect(server.requests[0].body).toMatchObject({
      model: 'gpt-5',
      input: [{ role: 'user', content: 'What is 2+2?' }],
      max_output_tokens: 20,
    });
    const status = result.parts.at(-1)!;
    expect(status.text).toBe('');
    expect(status.metadata).toMatchObject({ provider: 'openai', responseId: 'resp_fake_0' });
  });

  it('streams reasoning summaries on substream reasoning and the answer on the default one', async () => {
    const server = await modelServer({ provider: 'openai', reply: { reasoning: 'Adding up', text: 'Four.' } });
    const llm = createLLM('openai', {
      model: 'gpt-5',
      baseURL: server.baseURL,
      apiKey: 'k',
      api: 'responses',
      env: {},
    });
    const parts = await llm.stream('2+2?').gather();
    expect(
      parts
        .filter((p) => p.substream === 'reasoning')
        .map((p) => p.text)
        .join(''),
    ).toBe('Adding up');
    expect(
      parts
        .filter((p) => p.substream === '')
        .map((p) => p.text)
        .join(''),
    ).toBe('Four.');
  });

  it('a session sends the earlier function call and its result back as input items', async () => {
    let turn = 0;
    const server = await modelServer({
      provider: 'openai',
      reply: () =>
        turn++ === 0 ? { toolCalls: [{ id: 'call_7', name: 'weather', args: { city: 'Oslo' } }] } : 'Cold.',
    });
    const llm = createLLM('openai', {
      model: 'gpt-5',
      baseURL: server.baseURL,
      apiKey: 'k',
      api: 'responses',
      env: {},
    });
    const session = llm.session();
    const first = await session.generate('Weather in Oslo?', { tools: [{ name: 'weather' }] });
    const call = first.parts.find((p) => p.mimetype === TOOL_CALL_MIMETYPE)!;
    expect(call.toolCall).toEqual({ id: 'call_7', name: 'weather', args: { city: 'Oslo' } });
    expect(first.finishReason).toBe('tool_calls');
    const answer = await session.generate([
      textPart('', { role: 'tool', toolResult: { id: 'call_7', name: 'weather', result: { temp: -3 } } }),
    ]);
    expect(answer.text).toBe('Cold.');
    expect((server.requests[1].body as { input: unknown[] }).input).toEqual([
      { role: 'user', content: 'Weather in Oslo?' },
      { type: 'function_call', call_id: 'call_7', name: 'weather', arguments: '{"city":"Oslo"}' },
      { type: 'function_call_output', call_id: 'call_7', output: '{"temp":-3}' },
    ]);
  });

  it('refuses api: responses for a provider that does not speak it, and an unknown api', () => {
    expect(() => createLLM('anthropic', { model: 'c', apiKey: 'k', api: 'responses', env: {} })).toThrow(ConfigError);
    expect(() => createLLM('openai', { model: 'g', apiKey: 'k', api: 'assistants' as never, env: {} })).toThrow(
      /unknown api "assistants"/,
    );
  });
});
