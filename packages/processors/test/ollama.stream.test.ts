// The ollama processor: shared streaming behaviour and the exact /api/chat
// request (messages, images, options, tools).

import { dataPart, part, TOOL_CALL_MIMETYPE, textPart } from '@sluice/core';
import { describe, expect, it } from 'vitest';
import { InternalServerError, NotFoundError } from '../src/http/errors.ts';
import { ollama } from '../src/models/ollama.ts';
import { describeModelProcessor, useServer } from './model-suite.ts';

describeModelProcessor('ollama', ollama);

describe('ollama request', () => {
  const start = useServer('ollama');

  it('posts NDJSON streaming to <origin>/api/chat with sampling options under options', async () => {
    const server = await start();
    await ollama({
      model: 'llama3.2',
      baseURL: server.baseURL,
      system: 'Be brief.',
      temperature: 0.1,
      maxTokens: 20,
      stop: ['\n\n'],
      extraBody: { keep_alive: '5m', options: { num_ctx: 4096 } },
    })([
      textPart('Hi'),
      dataPart(new Uint8Array([255]), 'image/png'),
      textPart('Hello!', { role: 'model' }),
      part(new Uint8Array(), {
        mimetype: TOOL_CALL_MIMETYPE,
        role: 'model',
        toolCall: { id: 'c1', name: 'f', args: { a: 1 } },
      }),
      part('', { role: 'tool', toolResult: { id: 'c1', name: 'f', result: { ok: true } } }),
    ]).gather();
    const [request] = server.requests;
    expect(request.path).toBe('/api/chat');
    expect(request.body).toEqual({
      model: 'llama3.2',
      stream: true,
      keep_alive: '5m',
      options: { temperature: 0.1, num_predict: 20, stop: ['\n\n'], num_ctx: 4096 },
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Hi', images: ['/w=='] },
        { role: 'assistant', content: 'Hello!', tool_calls: [{ function: { name: 'f', arguments: { a: 1 } } }] },
        { role: 'tool', content: '{"ok":true}', tool_name: 'f' },
      ],
    });
  });

  it("reads Ollama's 404 for a model that is not pulled", async () => {
    const server = await start({ fail: { status: 404, message: 'model "nope" not found, try pulling it first' } });
    const error = await ollama({ model: 'nope', baseURL: server.baseURL })('x')
      .gather()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotFoundError);
    expect((error as Error).message).toContain('try pulling it first');
  });

  it('turns an {"error"} line after output into InternalServerError', async () => {
    const server = await start({ streamError: { after: 2, message: 'model runner has unexpectedly stopped' } });
    const error = await ollama({ model: 'm', baseURL: server.baseURL })('x')
      .gather()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InternalServerError);
    expect((error as Error).message).toContain('unexpectedly stopped');
  });
});
