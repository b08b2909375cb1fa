// The openai processor: shared streaming behaviour, the exact request it
// sends, and the deviations of OpenAI-compatible servers (vLLM, LM Studio,
// OpenRouter) end to end.

import { inspect } from 'node:util';
import { dataPart, part, TOOL_CALL_MIMETYPE, textPart } from '@sluice/core';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { AuthenticationError, BadRequestError, InternalServerError, NotFoundError } from '../src/http/errors.ts';
import { openai } from '../src/models/openai.ts';
import { describeModelProcessor, useServer } from './model-suite.ts';

describeModelProcessor('openai', openai);

describe('openai request', () => {
  const start = useServer('openai');

  it('posts to <baseURL>/chat/completions with a bearer key, stream and stream_options.include_usage', async () => {
    const server = await start();
    await openai({ model: 'gpt-test', baseURL: server.baseURL, apiKey: 'sk-abc' })('Hi').gather();
    const [request] = server.requests;
    expect(request.path).toBe('/v1/chat/completions');
    expect(request.headers.authorization).toBe('Bearer sk-abc');
    expect(request.body).toMatchObject({
      model: 'gpt-test',
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'Hi' }],
    });
  });

  it('maps roles, groups consecutive parts, sends images, tool calls and tool results', async () => {
    const server = await start();
    const png = new Uint8Array([137, 80, 78, 71]);
    await openai({
      model: 'gpt-test',
      baseURL: server.baseURL,
      system: 'Be brief.',
      temperature: 0.2,
      maxTokens: 64,
      stop: ['END'],
      tools: [{ name: 'weather', description: 'Weather', parameters: z.object({ city: z.string() }) }],
      toolChoice: { name: 'weather' },
      extraBody: { top_p: 0.5 },
    })([
      textPart('Rules: none.', { role: 'system' }),
      textPart('What is ', { role: 'user' }),
      textPart('this?', { role: '' }),
      dataPart(png, 'image/png', { role: 'user' }),
      textPart('A logo.', { role: 'model' }),
      part(new Uint8Array(), {
        mimetype: TOOL_CALL_MIMETYPE,
        role: 'model',
        toolCall: { id: 'call_1', name: 'weather', args: { city: 'Oslo' } },
      }),
      textPart('ignored', { role: 'model', substream: 'reasoning' }),
      part('', { role: 'tool', toolResult: { id: 'call_1', name: 'weather', result: { temp: 3 } } }),
      textPart('Thanks', { role: 'user' }),
    ]).gather();
    const body = server.requests[0].body as Record<string, unknown>;
    expect(body.messages).toEqual([
      { role: 'system', content: 'Be brief.\n\nRules: none.' },
      {
        role: 'user',
        content: [
          { type: 'text', text: 'What is ' },
          { type: 'text', text: 'this?' },
          { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw==' } },
        ],
      },
      {
        role: 'assistant',
        content: 'A logo.',
        tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'weather', arguments: '{"city":"Oslo"}' } }],
      },
      { role: 'tool', tool_call_id: 'call_1', content: '{"temp":3}' },
      { role: 'user', content: 'Thanks' },
    ]);
    expect(body).toMatchObject({
      temperature: 0.2,
      max_tokens: 64,
      stop: ['END'],
      top_p: 0.5,
      tool_choice: { type: 'function', function: { name: 'weather' } },
    });
    expect((body.tools as unknown[])[0]).toMatchObject({
      type: 'function',
      function: {
        name: 'weather',
        description: 'Weather',
        parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
      },
    });
  });

  it('uses max_completion_tokens for api.openai.com (the official API rejects max_tokens for newer models)', async () => {
    const { openAIBody } = await import('../src/models/wire/openai.ts');
    expect(openAIBody([], { model: 'x', maxTokens: 5, maxTokensField: 'max_completion_tokens' })).toMatchObject({
      max_completion_tokens: 5,
    });
  });

  it('redacts a key passed through headers instead of apiKey', async () => {
    const server = await start({ apiKey: 'right' });
    const secret = 'sk-header-secret-42';
    const error = await openai({ model: 'm', baseURL: server.baseURL, headers: { authorization: `Bearer ${secret}` } })(
      'x',
    )
      .gather()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthenticationError);
    expect(inspect(error, { depth: 10 })).not.toContain(secret);
  });

  it('points a wrong baseURL at the model name and /v1', async () => {
    const server = await start();
    const error = await openai({ model: 'm', baseURL: `${server.origin}/api` })('x')
      .gather()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotFoundError);
    expect((error as NotFoundError).hint).toContain('/v1');
  });
});

describe('openai-compatible servers', () => {
  const start = useServer('openai');

  it('OpenRouter: ignores keep-alive comments, fails typed on its mid-stream error chunk', async () => {
    const server = await start({
      dialect: 'openrouter',
      streamError: { after: 2, status: 502, message: 'Provider returned error' },
    });
    const seen: string[] = [];
    const error = await (async () => {
      for await (const p of openai({ model: 'm', baseURL: server.baseURL })('x')) if (p.text) seen.push(p.text);
    })().catch((e: unknown) => e);
    expect(seen).toEqual(['Grüße', ' aus']);
    expect(error).toBeInstanceOf(InternalServerError);
    expect((error as InternalServerError).status).toBe(502);
    expect((error as Error).message).toContain('Provider returned error');
  });

  it('OpenRouter: streams normally between keep-alive comments', async () => {
    const server = await start({ dialect: 'openrouter', reply: 'a b c' });
    expect(await openai({ model: 'm', baseURL: server.baseURL })('x').text()).toBe('a b c');
  });

  it('vLLM: reads the integer error code of an HTTP error', async () => {
    const server = await start({ dialect: 'vllm', fail: { status: 400, message: 'max_tokens too large' } });
    const error = await openai({ model: 'm', baseURL: server.baseURL })('x')
      .gather()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BadRequestError);
    expect(error).toMatchObject({ status: 400, providerCode: '400', type: 'BadRequestError' });
    expect((error as Error).message).toContain('max_tokens too large');
  });

  it('LM Studio: reads a plain string error', async () => {
    const server = await start({ dialect: 'lmstudio', fail: { status: 404, message: 'Model not loaded' } });
    const error = await openai({ model: 'm', baseURL: server.baseURL })('x')
      .gather()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotFoundError);
    expect((error as Error).message).toContain('Model not loaded');
  });

  it('vLLM/DeepSeek reasoning_content and OpenRouter reasoning both land on the reasoning substream', async () => {
    for (const dialect of ['vllm', 'openrouter'] as const) {
      const server = await start({ dialect, reply: { reasoning: 'hmm', text: 'ok' } });
      const parts = await openai({ model: 'm', baseURL: server.baseURL })('x').gather();
      expect(parts.filter((p) => p.substream === 'reasoning').map((p) => p.text)).toEqual(['hmm']);
    }
  });
});
