// The anthropic processor: shared streaming behaviour and the exact Messages
// API request (system, content blocks, tool_use / tool_result, version header).

import { dataPart, part, TOOL_CALL_MIMETYPE, textPart } from '@sluice/core';
import { describe, expect, it } from 'vitest';
import { InternalServerError } from '../src/http/errors.ts';
import { anthropic } from '../src/models/anthropic.ts';
import { describeModelProcessor, useServer } from './model-suite.ts';

describeModelProcessor('anthropic', anthropic);

describe('anthropic request', () => {
  const start = useServer('anthropic');

  it('posts to <origin>/v1/messages with x-api-key, anthropic-version and a default max_tokens', async () => {
    const server = await start();
    await anthropic({ model: 'claude-test', baseURL: server.baseURL, apiKey: 'sk-ant' })('Hi').gather();
    const [request] = server.requests;
    expect(request.path).toBe('/v1/messages');
    expect(request.headers['x-api-key']).toBe('sk-ant');
    expect(request.headers['anthropic-version']).toBe('2023-06-01');
    expect(request.headers.authorization).toBeUndefined();
    expect(request.body).toEqual({
      model: 'claude-test',
      max_tokens: 4096,
      stream: true,
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Hi' }] }],
    });
  });

  it('maps system, images, tool_use and tool_result (in a user turn), merging same-role turns', async () => {
    const server = await start();
    await anthropic({
      model: 'claude-test',
      baseURL: server.baseURL,
      system: 'Be brief.',
      maxTokens: 100,
      temperature: 0,
      stop: 'STOP',
      tools: [{ name: 'weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } }],
      toolChoice: 'required',
      extraBody: { thinking: { type: 'enabled', budget_tokens: 1024 } },
    })([
      textPart('Look:', { role: 'user' }),
      dataPart(new Uint8Array([1, 2, 3]), 'image/jpeg'),
      textPart('Checking.', { role: 'model' }),
      part(new Uint8Array(), {
        mimetype: TOOL_CALL_MIMETYPE,
        role: 'model',
        toolCall: { id: 'toolu_1', name: 'weather', args: { city: 'Rome' } },
      }),
      part('', { role: 'tool', toolResult: { id: 'toolu_1', name: 'weather', result: 'sunny', isError: false } }),
      textPart('And tomorrow?', { role: 'user' }),
    ]).gather();
    expect(server.requests[0].body).toEqual({
      model: 'claude-test',
      max_tokens: 100,
      stream: true,
      system: 'Be brief.',
      temperature: 0,
      stop_sequences: ['STOP'],
      tools: [{ name: 'weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } } }],
      tool_choice: { type: 'any' },
      thinking: { type: 'enabled', budget_tokens: 1024 },
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Look:' },
            { type: 'image', source: { type: 'base64', media_type: 'image/jpeg', data: 'AQID' } },
          ],
        },
        {
          role: 'assistant',
          content: [
            { type: 'text', text: 'Checking.' },
            { type: 'tool_use', id: 'toolu_1', name: 'weather', input: { city: 'Rome' } },
          ],
        },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 'toolu_1', content: 'sunny' },
            { type: 'text', text: 'And tomorrow?' },
          ],
        },
      ],
    });
  });

  it('trims trailing whitespace of a final assistant prefill (the API rejects it)', async () => {
    const server = await start();
    await anthropic({ model: 'c', baseURL: server.baseURL })([
      textPart('Q'),
      textPart('Partial answer ', { role: 'model' }),
    ]).gather();
    const messages = (server.requests[0].body as { messages: { content: { text: string }[] }[] }).messages;
    expect(messages.at(-1)!.content.at(-1)!.text).toBe('Partial answer');
  });

  it('turns an overloaded_error event after output into InternalServerError with status 529', async () => {
    const server = await start({ streamError: { after: 1, type: 'overloaded_error', message: 'Overloaded' } });
    const error = await anthropic({ model: 'c', baseURL: server.baseURL })('x')
      .gather()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InternalServerError);
    expect(error).toMatchObject({ status: 529, type: 'overloaded_error', requestId: 'req_fake_0' });
  });
});
