// The gemini processor: shared streaming behaviour and the exact
// streamGenerateContent request (URL, key header, contents, config, tools).

import { dataPart, part, TOOL_CALL_MIMETYPE, textPart } from '@sluice/core';
import { describe, expect, it } from 'vitest';
import { RateLimitError } from '../src/http/errors.ts';
import { gemini } from '../src/models/gemini.ts';
import { describeModelProcessor, useServer } from './model-suite.ts';

describeModelProcessor('gemini', gemini);

describe('gemini request', () => {
  const start = useServer('gemini');

  it('posts to /v1beta/models/<model>:streamGenerateContent?alt=sse with the key in x-goog-api-key, not the URL', async () => {
    const server = await start();
    await gemini({ model: 'gemini-test', baseURL: server.baseURL, apiKey: 'AIza-secret' })('Hi').gather();
    const [request] = server.requests;
    expect(request.path).toBe('/v1beta/models/gemini-test:streamGenerateContent?alt=sse');
    expect(request.headers['x-goog-api-key']).toBe('AIza-secret');
    expect(request.body).toEqual({ contents: [{ role: 'user', parts: [{ text: 'Hi' }] }] });
  });

  it('maps system, roles, inline data, function calls and responses, config and tools', async () => {
    const server = await start();
    await gemini({
      model: 'models/gemini-test',
      baseURL: server.baseURL,
      system: 'Be brief.',
      temperature: 0.3,
      maxTokens: 50,
      stop: ['X'],
      tools: [
        { name: 'f', description: 'F', parameters: { type: 'object', properties: {}, additionalProperties: false } },
      ],
      extraBody: { generationConfig: { thinkingConfig: { thinkingBudget: 0 } } },
    })([
      textPart('Look', { role: 'user' }),
      dataPart(new Uint8Array([0]), 'audio/wav'),
      textPart('Calling.', { role: 'model' }),
      part(new Uint8Array(), {
        mimetype: TOOL_CALL_MIMETYPE,
        role: 'model',
        toolCall: { id: 'c', name: 'f', args: { q: 1 } },
      }),
      part('', { role: 'tool', toolResult: { id: 'c', name: 'f', result: 'done' } }),
    ]).gather();
    const [request] = server.requests;
    expect(request.path).toBe('/v1beta/models/gemini-test:streamGenerateContent?alt=sse');
    expect(request.body).toEqual({
      systemInstruction: { parts: [{ text: 'Be brief.' }] },
      generationConfig: {
        temperature: 0.3,
        maxOutputTokens: 50,
        stopSequences: ['X'],
        thinkingConfig: { thinkingBudget: 0 },
      },
      tools: [
        { functionDeclarations: [{ name: 'f', description: 'F', parameters: { type: 'object', properties: {} } }] },
      ],
      contents: [
        { role: 'user', parts: [{ text: 'Look' }, { inlineData: { mimeType: 'audio/wav', data: 'AA==' } }] },
        { role: 'model', parts: [{ text: 'Calling.' }, { functionCall: { name: 'f', args: { q: 1 } } }] },
        { role: 'user', parts: [{ functionResponse: { name: 'f', response: { result: 'done' } } }] },
      ],
    });
  });

  it('reads RESOURCE_EXHAUSTED as RateLimitError after retries', async () => {
    const server = await start({ fail: { status: 429, times: 5, headers: { 'retry-after-ms': '1' } } });
    const error = await gemini({ model: 'g', baseURL: server.baseURL })('x')
      .gather()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitError);
    expect(error).toMatchObject({ status: 429, type: 'RESOURCE_EXHAUSTED', code: 'E_RATE_LIMIT', providerCode: '429' });
    expect(server.requests).toHaveLength(3);
  });
});
