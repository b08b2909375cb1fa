import { textPart } from '@sluice/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ClosedError, createLLM, type Provider } from '../src/index.ts';
import { modelServer } from './helpers.ts';

afterEach(() => {
  vi.unstubAllEnvs();
});

const reply = 'Streams flow through the sluice.';

describe('createLLM against each provider wire format', () => {
  const openAICompatible: { provider: Provider; dialect: 'openai' | 'lmstudio' | 'vllm' | 'openrouter' }[] = [
    { provider: 'openai', dialect: 'openai' },
    { provider: 'lmstudio', dialect: 'lmstudio' },
    { provider: 'vllm', dialect: 'vllm' },
    { provider: 'openrouter', dialect: 'openrouter' },
    { provider: 'openai-compatible', dialect: 'openai' },
  ];

  for (const { provider, dialect } of openAICompatible) {
    it(`${provider}: generate() streams chat completions and reports usage`, async () => {
      const server = await modelServer({ provider: 'openai', dialect, reply, apiKey: 'key-123' });
      const llm = createLLM(provider, { model: 'test-model', baseURL: server.baseURL, apiKey: 'key-123', env: {} });
      const result = await llm.generate('Say something about sluices.');
      expect(result.text).toBe(reply);
      expect(result.finishReason).toBe('stop');
      expect(result.usage).toMatchObject({ inputTokens: expect.any(Number), outputTokens: expect.any(Number) });
      expect(server.requests).toHaveLength(1);
      expect(server.requests[0].path).toBe('/v1/chat/completions');
      expect(server.requests[0].headers.authorization).toBe('Bearer key-123');
      expect((server.requests[0].body as { model: string }).model).toBe('test-model');
      expect(llm.provider).toBe(provider);
      expect(llm.model).toBe('test-model');
    });
  }

  it('anthropic: generate() speaks the Messages API with x-api-key', async () => {
    const server = await modelServer({ provider: 'anthropic', reply, apiKey: 'ant-key' });
    const llm = createLLM('anthropic', {
      model: 'claude-test',
      baseURL: server.baseURL,
      env: { ANTHROPIC_API_KEY: 'ant-key' },
    });
    const result = await llm.generate('Hello');
    expect(result.text).toBe(reply);
    expect(result.finishReason).toBe('stop');
    expect(server.requests[0].path).toBe('/v1/messages');
    expect(server.requests[0].headers['x-api-key']).toBe('ant-key');
  });

  it('gemini: generate() speaks streamGenerateContent, key from GOOGLE_API_KEY when GEMINI_API_KEY is unset', async () => {
    const server = await modelServer({ provider: 'gemini', reply, apiKey: 'goog-key' });
    const llm = createLLM('gemini', {
      model: 'gemini-test',
      baseURL: server.baseURL,
      env: { GOOGLE_API_KEY: 'goog-key' },
    });
    const result = await llm.generate('Hello');
    expect(result.text).toBe(reply);
    expect(server.requests[0].path).toBe('/v1beta/models/gemini-test:streamGenerateContent?alt=sse');
  });

  it('ollama: the base URL comes from OLLAMA_HOST (host:port, no scheme) and /api/chat is NDJSON', async () => {
    const server = await modelServer({ provider: 'ollama', reply });
    const host = new URL(server.url).host;
    const llm = createLLM('ollama', { model: 'llama3.2', env: { OLLAMA_HOST: host } });
    const result = await llm.generate('Hello');
    expect(result.text).toBe(reply);
    expect(server.requests[0].path).toBe('/api/chat');
  });

  it('openai: the key comes from OPENAI_API_KEY and the base URL from OPENAI_BASE_URL', async () => {
    const server = await modelServer({ provider: 'openai', reply, apiKey: 'env-key' });
    const llm = createLLM('openai', {
      model: 'gpt-test',
      env: { OPENAI_API_KEY: 'env-key', OPENAI_BASE_URL: server.baseURL },
    });
    expect((await llm.generate('Hi')).text).toBe(reply);
    expect(server.requests[0].headers.authorization).toBe('Bearer env-key');
  });

  it('openrouter: the key comes from OPENROUTER_API_KEY', async () => {
    const server = await modelServer({ provider: 'openai', dialect: 'openrouter', reply, apiKey: 'or-key' });
    const llm = createLLM('openrouter', {
      model: 'x/y',
      baseURL: server.baseURL,
      env: { OPENROUTER_API_KEY: 'or-key' },
    });
    expect((await llm.generate('Hi')).text).toBe(reply);
  });

  it('a keyless local provider never sends the OpenAI key found in the environment', async () => {
    vi.stubEnv('OPENAI_API_KEY', 'sk-must-not-leak');
    const server = await modelServer({ provider: 'openai', dialect: 'lmstudio', reply });
    const llm = createLLM('lmstudio', { model: 'local', baseURL: server.baseURL });
    expect((await llm.generate('Hi')).text).toBe(reply);
    expect(server.requests[0].headers.authorization).toBeUndefined();
  });

  it('stream() yields the first token before the server sent the last one', async () => {
    const server = await modelServer({ provider: 'openai', reply, holdAfter: 1 });
    const llm = createLLM('openai', { model: 'm', baseURL: server.baseURL, env: {} });
    const iterator = llm.stream('Go')[Symbol.asyncIterator]();
    const first = await iterator.next();
    expect(first.value?.text).toBe('Streams');
    expect(first.value?.role).toBe('model');
    expect(server.requests[0].tokensSent).toBe(1);
    server.release();
    const rest: string[] = [];
    for (let r = await iterator.next(); !r.done; r = await iterator.next()) {
      if (r.value.substream === '') rest.push(r.value.text ?? '');
    }
    expect(`Streams${rest.join('')}`).toBe(reply);
  });

  it('the system option and the call system prompt are sent as the system prompt, in that order', async () => {
    const server = await modelServer({ provider: 'openai', reply });
    const llm = createLLM('openai', { model: 'm', baseURL: server.baseURL, env: {}, system: 'Be brief.' });
    await llm.generate('Hi', { system: 'Answer in English.' });
    expect(server.requests[0].messages[0]).toEqual({ role: 'system', text: 'Be brief.\n\nAnswer in English.' });
    expect(server.requests[0].messages.at(-1)).toEqual({ role: 'user', text: 'Hi' });
  });

  it('aborting the call signal rejects with its reason and closes the connection', async () => {
    const server = await modelServer({ provider: 'openai', reply, holdAfter: 1 });
    const llm = createLLM('openai', { model: 'm', baseURL: server.baseURL, env: {} });
    const controller = new AbortController();
    const reason = new Error('user stopped');
    const pending = llm.generate('Go', { signal: controller.signal });
    const held = await server.waitForHold();
    controller.abort(reason);
    await expect(pending).rejects.toBe(reason);
    expect(await held.closed).toEqual({ finished: false });
  });

  it('close() stops the calls in flight with ClosedError and refuses new ones', async () => {
    const server = await modelServer({ provider: 'openai', reply, holdAfter: 1 });
    const llm = createLLM('openai', { model: 'm', baseURL: server.baseURL, env: {} });
    const pending = llm.generate('Go');
    const held = await server.waitForHold();
    await llm.close();
    await expect(pending).rejects.toBeInstanceOf(ClosedError);
    expect(await held.closed).toEqual({ finished: false });
    expect(() => llm.stream('again')).toThrow(ClosedError);
  });

  it('await using closes the LLM at the end of the scope', async () => {
    let outside: ReturnType<typeof createLLM>;
    {
      await using llm = createLLM('fake', { reply: 'ok' });
      outside = llm;
      expect((await llm.generate('x')).text).toBe('ok');
    }
    await expect(outside.generate('x')).rejects.toBeInstanceOf(ClosedError);
  });

  it('llm.processor is the model processor, usable in a pipeline', async () => {
    const server = await modelServer({ provider: 'openai', reply });
    const llm = createLLM('openai-compatible', { model: 'm', baseURL: server.baseURL });
    const text = await llm.processor([textPart('Hi', { role: 'user' })]).text();
    expect(text).toBe(reply);
  });
});

describe("createLLM('fake')", () => {
  it('echoes the last user message by default', async () => {
    const llm = createLLM('fake');
    const result = await llm.generate('hello there');
    expect(result.text).toBe('Echo: hello there');
    expect(result.finishReason).toBe('stop');
    expect(result.usage).toEqual({ inputTokens: 2, outputTokens: 3, totalTokens: 5 });
  });

  it('streams a scripted reply token by token', async () => {
    const llm = createLLM('fake', { reply: ['a', 'b', 'c'] });
    const parts = await llm.stream('x').gather();
    expect(parts.filter((p) => p.substream === '').map((p) => p.text)).toEqual(['a', 'b', 'c']);
    expect(parts.at(-1)?.substream).toBe('status');
  });
});
