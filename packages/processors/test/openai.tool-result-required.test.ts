// A 'tool' part must say which tool call it answers: OpenAI refuses a tool message without
// tool_call_id, so the openai processor refuses such a part before sending anything.

import { part, TOOL_CALL_MIMETYPE, textPart } from '@sluice/core';
import { describe, expect, it } from 'vitest';
import { UnsupportedPartError } from '../src/models/messages.ts';
import { openai } from '../src/models/openai.ts';
import { useServer } from './model-suite.ts';

const call = part(new Uint8Array(), {
  mimetype: TOOL_CALL_MIMETYPE,
  role: 'model',
  toolCall: { id: 'call_1', name: 'weather', args: { city: 'Oslo' } },
});

describe('openai tool parts', () => {
  const start = useServer('openai');

  it('a tool part without toolResult fails with UnsupportedPartError and a hint, and nothing is sent', async () => {
    const server = await start();
    const model = openai({ model: 'gpt-test', baseURL: server.baseURL, apiKey: 'k' });
    const error = await model([textPart('Weather in Oslo?'), call, textPart('3 degrees', { role: 'tool' })])
      .gather()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnsupportedPartError);
    const unsupported = error as UnsupportedPartError;
    expect(unsupported.code).toBe('E_UNSUPPORTED_PART');
    expect(unsupported.message).toMatch(/role 'tool'.*no toolResult/);
    expect(unsupported.hint).toMatch(/toolResult: \{ id, name, result \}/);
    expect(server.requests).toHaveLength(0);
  });

  it('a tool part with toolResult is sent with the id of the call it answers', async () => {
    const server = await start();
    const model = openai({ model: 'gpt-test', baseURL: server.baseURL, apiKey: 'k' });
    await model([
      textPart('Weather in Oslo?'),
      call,
      part('', { role: 'tool', toolResult: { id: 'call_1', name: 'weather', result: '3 degrees' } }),
    ]).gather();
    const body = server.requests[0].body as { messages: unknown[] };
    expect(body.messages.at(-1)).toEqual({ role: 'tool', tool_call_id: 'call_1', content: '3 degrees' });
  });
});
