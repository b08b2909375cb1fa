// What a new user reaches for first: per-call options on generate(), chat
// messages as prompts, flow control attached to the LLM (generate() keeps
// its result), a status part that prints nothing, and sessions that send
// provider state (thinking signatures) back.

import { RateLimiter } from '@sluice/processors';
import { describe, expect, it } from 'vitest';
import { ConfigError, createLLM } from '../src/index.ts';
import { modelServer } from './helpers.ts';

const reply = 'Water finds a way.';
type Body = Record<string, unknown> & { messages: { role: string; content: unknown }[] };

describe('generate() per-call options', () => {
  it('sends maxTokens, temperature and stop for that call only', async () => {
    const server = await modelServer({ provider: 'openai', reply });
    const llm = createLLM('openai-compatible', { model: 'm', baseURL: server.baseURL, temperature: 0.9, env: {} });
    const result = await llm.generate('hi', { maxTokens: 7, temperature: 0.1, stop: ['\n'] });
    expect(result.text).toBe(reply);
    const first = server.requests[0].body as Body;
    expect(first).toMatchObject({ max_tokens: 7, temperature: 0.1, stop: ['\n'] });
    await llm.generate('again');
    const second = server.requests[1].body as Body;
    expect(second.temperature).toBe(0.9);
    expect(second).not.toHaveProperty('max_tokens');
    expect(second).not.toHaveProperty('stop');
  });
});

describe('chat messages as a prompt', () => {
  it('accepts [{ role, content }] (OpenAI style) wherever a prompt is', async () => {
    const server = await modelServer({ provider: 'openai', reply });
    const llm = createLLM('openai-compatible', { model: 'm', baseURL: server.baseURL, env: {} });
    const result = await llm.generate([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Hi' },
      { role: 'assistant', content: 'Hello!' },
      { role: 'user', content: [{ type: 'text', text: 'What flows?' }] },
    ]);
    expect(result.text).toBe(reply);
    expect((server.requests[0].body as Body).messages).toEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Hi' },
      { role: 'assistant', content: 'Hello!' },
      { role: 'user', content: 'What flows?' },
    ]);
    const streamed: string[] = [];
    for await (const p of llm.stream([{ role: 'user', content: 'Stream it' }])) streamed.push(p.text ?? '');
    expect(streamed.join('')).toBe(reply);
    expect((server.requests[1].body as Body).messages).toEqual([{ role: 'user', content: 'Stream it' }]);
  });

  it('refuses a message whose content is not text, with a ConfigError', () => {
    const llm = createLLM('fake');
    const bad = [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'x' } }] }] as never;
    expect(() => llm.stream(bad)).toThrow(ConfigError);
  });
});

describe('flow control attached to the LLM', () => {
  it('retry: a failed attempt is retried and generate() still returns text, usage and finishReason', async () => {
    const server = await modelServer({ provider: 'openai', reply, fail: { status: 500, times: 1 } });
    const bare = createLLM('openai-compatible', { model: 'm', baseURL: server.baseURL, maxRetries: 0, env: {} });
    await expect(bare.generate('hi')).rejects.toMatchObject({ status: 500 });
    const server2 = await modelServer({ provider: 'openai', reply, fail: { status: 500, times: 1 } });
    const llm = createLLM('openai-compatible', {
      model: 'm',
      baseURL: server2.baseURL,
      maxRetries: 0,
      env: {},
      retry: { maxRetries: 1, initialRetryDelayMs: 1, maxRetryDelayMs: 1 },
      timeout: { totalMs: 10_000 },
      rateLimit: { requestsPerSecond: 100 },
    });
    const result = await llm.generate('hi');
    expect(result.text).toBe(reply);
    expect(result.finishReason).toBe('stop');
    expect(result.usage).toMatchObject({ inputTokens: expect.any(Number), outputTokens: expect.any(Number) });
    expect(server2.requests).toHaveLength(2);
  });

  it('timeout: a stalled stream fails with E_TIMEOUT through generate()', async () => {
    const server = await modelServer({ provider: 'openai', reply, stallAfter: 1 });
    const llm = createLLM('openai-compatible', {
      model: 'm',
      baseURL: server.baseURL,
      env: {},
      timeout: { idleMs: 100 },
    });
    await expect(llm.generate('hi')).rejects.toMatchObject({ code: 'E_TIMEOUT' });
  });

  it('rateLimit: one limiter is shared by every call, per-call options included', async () => {
    const server = await modelServer({ provider: 'openai', reply });
    const limiter = new RateLimiter({ requestsPerSecond: 1000, burst: 5 });
    const llm = createLLM('openai-compatible', { model: 'm', baseURL: server.baseURL, env: {}, rateLimit: limiter });
    const results = await Promise.all([llm.generate('a'), llm.generate('b', { maxTokens: 3 })]);
    expect(results.map((r) => r.text)).toEqual([reply, reply]);
    expect(server.requests).toHaveLength(2);
  });
});

describe('the final status part', () => {
  it('has empty text, so a naive loop prints only the answer; usage and finish are in its metadata', async () => {
    const server = await modelServer({ provider: 'openai', reply });
    const llm = createLLM('openai-compatible', { model: 'm', baseURL: server.baseURL, env: {} });
    let printed = '';
    let status: Record<string, unknown> | undefined;
    for await (const p of llm.stream('hi')) {
      printed += p.text ?? '';
      if (p.substream === 'status') status = p.metadata;
    }
    expect(printed).toBe(reply);
    expect(status).toMatchObject({ finishReason: 'stop', usage: { outputTokens: expect.any(Number) } });
  });
});

describe('sessions send provider state back', () => {
  it("keeps Anthropic's thinking signature and sends it with the assistant turn", async () => {
    const server = await modelServer({
      provider: 'anthropic',
      reply: (request) =>
        request.index === 0
          ? { reasoning: 'I should call the tool.', toolCalls: [{ id: 'toolu_1', name: 'lookup', args: { q: 'x' } }] }
          : 'Done.',
    });
    const llm = createLLM('anthropic', { model: 'claude', baseURL: server.baseURL, apiKey: 'k', env: {} });
    const chat = llm.session();
    const first = await chat.generate('look it up');
    expect(first.finishReason).toBe('tool_calls');
    await chat.generate('continue');
    const messages = (server.requests[1].body as Body).messages as { role: string; content: { type: string }[] }[];
    expect(messages[1].role).toBe('assistant');
    expect(messages[1].content[0]).toEqual({
      type: 'thinking',
      thinking: 'I should call the tool.',
      signature: 'c2lnbmF0dXJl',
    });
    expect(messages[1].content[1]).toMatchObject({ type: 'tool_use', id: 'toolu_1', name: 'lookup' });
  });
});
