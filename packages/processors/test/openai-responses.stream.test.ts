// The openaiResponses processor (OpenAI Responses API): the shared model
// behaviour against the fake server's /v1/responses route, the request it
// sends, and recorded streams written from the API reference's event types
// (the `openai` package's ResponseStreamEvent), never from our own encoder.

import { part, TOOL_CALL_MIMETYPE, textPart } from '@sluice/core';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { APIConnectionError, InternalServerError, RateLimitError } from '../src/http/errors.ts';
import { isRetryableError } from '../src/http/retry-policy.ts';
import type { ModelEvent } from '../src/models/events.ts';
import { UnsupportedOptionError } from '../src/models/messages.ts';
import { eventToPart } from '../src/models/model.ts';
import { openaiResponses } from '../src/models/openai-responses.ts';
import { sseFrames, streamEventError } from '../src/models/run.ts';
import { responsesDecoder } from '../src/models/wire/openai-responses.ts';
import { fromChunks, joined } from './model-helpers.ts';
import { describeModelProcessor, useServer } from './model-suite.ts';

describeModelProcessor('openai', openaiResponses, 'openai-responses');

const named = (event: Record<string, unknown>) => `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;

async function decode(events: Record<string, unknown>[], split = 0): Promise<ModelEvent[]> {
  const bytes = Buffer.from(events.map(named).join(''), 'utf8');
  const chunks =
    split > 0
      ? Array.from({ length: Math.ceil(bytes.length / split) }, (_, i) => bytes.subarray(i * split, (i + 1) * split))
      : [bytes];
  const decoder = responsesDecoder();
  const out: ModelEvent[] = [];
  for await (const frame of sseFrames(fromChunks(chunks), 'openai'))
    out.push(...decoder.push(frame.value, frame.event));
  out.push(...decoder.end({ terminated: false }));
  return out;
}

const response = (status: string, extra: Record<string, unknown> = {}) => ({
  id: 'resp_67ccd2bed1ec8190b14f964abc054267',
  object: 'response',
  created_at: 1741476542,
  status,
  error: null,
  incomplete_details: null,
  model: 'gpt-5-mini-2025-08-07',
  output: [],
  usage: null,
  ...extra,
});
const usage = {
  input_tokens: 1200,
  input_tokens_details: { cached_tokens: 1024 },
  output_tokens: 300,
  output_tokens_details: { reasoning_tokens: 256 },
  total_tokens: 1500,
};
let seq = 0;
const ev = (type: string, fields: Record<string, unknown> = {}) => ({ type, sequence_number: seq++, ...fields });

describe('Responses API stream, as documented', () => {
  const created = ev('response.created', { response: response('in_progress') });
  const reasoning = [
    ev('response.output_item.added', { output_index: 0, item: { id: 'rs_1', type: 'reasoning', summary: [] } }),
    ev('response.reasoning_summary_part.added', {
      item_id: 'rs_1',
      output_index: 0,
      summary_index: 0,
      part: { type: 'summary_text', text: '' },
    }),
    ev('response.reasoning_summary_text.delta', {
      item_id: 'rs_1',
      output_index: 0,
      summary_index: 0,
      delta: '**Adding**',
    }),
    ev('response.reasoning_summary_text.delta', {
      item_id: 'rs_1',
      output_index: 0,
      summary_index: 0,
      delta: ' numbers',
    }),
    ev('response.reasoning_summary_text.done', {
      item_id: 'rs_1',
      output_index: 0,
      summary_index: 0,
      text: '**Adding** numbers',
    }),
    ev('response.output_item.done', {
      output_index: 0,
      item: { id: 'rs_1', type: 'reasoning', summary: [{ type: 'summary_text', text: '**Adding** numbers' }] },
    }),
  ];
  const message = [
    ev('response.output_item.added', {
      output_index: 1,
      item: { id: 'msg_1', type: 'message', status: 'in_progress', role: 'assistant', content: [] },
    }),
    ev('response.content_part.added', {
      item_id: 'msg_1',
      output_index: 1,
      content_index: 0,
      part: { type: 'output_text', text: '', annotations: [] },
    }),
    ev('response.output_text.delta', {
      item_id: 'msg_1',
      output_index: 1,
      content_index: 0,
      delta: '2 + 2',
      logprobs: [],
    }),
    ev('response.output_text.delta', {
      item_id: 'msg_1',
      output_index: 1,
      content_index: 0,
      delta: ' = 4',
      logprobs: [],
    }),
    ev('response.output_text.done', {
      item_id: 'msg_1',
      output_index: 1,
      content_index: 0,
      text: '2 + 2 = 4',
      logprobs: [],
    }),
    ev('response.output_item.done', {
      output_index: 1,
      item: {
        id: 'msg_1',
        type: 'message',
        status: 'completed',
        role: 'assistant',
        content: [{ type: 'output_text', text: '2 + 2 = 4', annotations: [] }],
      },
    }),
  ];
  const completed = ev('response.completed', { response: response('completed', { usage }) });

  it('streams text deltas as text, reasoning summary deltas as reasoning, and the usage of response.completed', async () => {
    const events = await decode([created, ...reasoning, ...message, completed], 5);
    expect(events.filter((e) => e.type === 'text').map((e) => (e as { text: string }).text)).toEqual(['2 + 2', ' = 4']);
    expect(joined(events, 'reasoning')).toBe('**Adding** numbers');
    expect(events.at(-1)).toEqual({
      type: 'finish',
      finishReason: 'stop',
      rawFinishReason: 'completed',
      model: 'gpt-5-mini-2025-08-07',
      responseId: 'resp_67ccd2bed1ec8190b14f964abc054267',
      usage: {
        inputTokens: 1200,
        outputTokens: 300,
        totalTokens: 1500,
        cachedInputTokens: 1024,
        reasoningTokens: 256,
      },
    });
  });

  it('assembles function_call_arguments deltas into one tool call per item, finish tool_calls', async () => {
    const events = await decode([
      created,
      ev('response.output_item.added', {
        output_index: 0,
        item: {
          id: 'fc_1',
          type: 'function_call',
          status: 'in_progress',
          arguments: '',
          call_id: 'call_abc',
          name: 'get_weather',
        },
      }),
      ev('response.function_call_arguments.delta', { item_id: 'fc_1', output_index: 0, delta: '{"loc' }),
      ev('response.function_call_arguments.delta', { item_id: 'fc_1', output_index: 0, delta: 'ation":"Paris"}' }),
      ev('response.function_call_arguments.done', {
        item_id: 'fc_1',
        output_index: 0,
        name: 'get_weather',
        arguments: '{"location":"Paris"}',
      }),
      ev('response.output_item.done', {
        output_index: 0,
        item: {
          id: 'fc_1',
          type: 'function_call',
          status: 'completed',
          arguments: '{"location":"Paris"}',
          call_id: 'call_abc',
          name: 'get_weather',
        },
      }),
      ev('response.output_item.added', {
        output_index: 1,
        item: {
          id: 'fc_2',
          type: 'function_call',
          status: 'in_progress',
          arguments: '',
          call_id: 'call_def',
          name: 'get_time',
        },
      }),
      ev('response.function_call_arguments.delta', { item_id: 'fc_2', output_index: 1, delta: '{}' }),
      ev('response.output_item.done', {
        output_index: 1,
        item: {
          id: 'fc_2',
          type: 'function_call',
          status: 'completed',
          arguments: '{}',
          call_id: 'call_def',
          name: 'get_time',
        },
      }),
      ev('response.completed', { response: response('completed', { usage }) }),
    ]);
    const calls = events.filter((e) => e.type === 'toolCall');
    expect(calls).toEqual([
      {
        type: 'toolCall',
        id: 'call_abc',
        name: 'get_weather',
        args: { location: 'Paris' },
        metadata: { itemId: 'fc_1' },
      },
      { type: 'toolCall', id: 'call_def', name: 'get_time', args: {}, metadata: { itemId: 'fc_2' } },
    ]);
    expect(events.at(-1)).toMatchObject({ type: 'finish', finishReason: 'tool_calls' });
  });

  it('keeps a web_search_call the service ran as a server tool part, never a client tool call', async () => {
    const events = await decode([
      created,
      ev('response.output_item.added', {
        output_index: 0,
        item: { id: 'ws_1', type: 'web_search_call', status: 'in_progress' },
      }),
      ev('response.web_search_call.searching', { item_id: 'ws_1', output_index: 0 }),
      ev('response.output_item.done', {
        output_index: 0,
        item: { id: 'ws_1', type: 'web_search_call', status: 'completed', action: { type: 'search', query: 'sluice' } },
      }),
      ...message,
      ev('response.completed', { response: response('completed', { usage }) }),
    ]);
    expect(events.some((e) => e.type === 'toolCall')).toBe(false);
    const server = events.find((e) => e.type === 'serverTool');
    expect(server).toMatchObject({ kind: 'call', id: 'ws_1', name: 'web_search_call' });
    const p = eventToPart(server as Exclude<ModelEvent, { type: 'error' }>, { provider: 'openai', model: 'm' });
    expect(p.substream).toBe('server_tool');
    expect(p.metadata.executedBy).toBe('server');
    expect(events.at(-1)).toMatchObject({ finishReason: 'stop' });
  });

  it('streams a refusal on its own and finishes with refusal', async () => {
    const events = await decode([
      created,
      ev('response.refusal.delta', { item_id: 'msg_1', output_index: 0, content_index: 0, delta: "I can't help" }),
      ev('response.refusal.delta', { item_id: 'msg_1', output_index: 0, content_index: 0, delta: ' with that.' }),
      ev('response.completed', { response: response('completed', { usage }) }),
    ]);
    expect(
      events
        .filter((e) => e.type === 'refusal')
        .map((e) => (e as { text: string }).text)
        .join(''),
    ).toBe("I can't help with that.");
    expect(events.some((e) => e.type === 'text')).toBe(false);
    expect(events.at(-1)).toMatchObject({ finishReason: 'refusal' });
  });

  it('maps response.incomplete with max_output_tokens to finish length', async () => {
    const events = await decode([
      created,
      ...message,
      ev('response.incomplete', {
        response: response('incomplete', { incomplete_details: { reason: 'max_output_tokens' }, usage }),
      }),
    ]);
    expect(events.at(-1)).toMatchObject({ finishReason: 'length', rawFinishReason: 'max_output_tokens' });
  });

  it('turns response.failed into a typed error carrying the response error code', async () => {
    const events = await decode([
      created,
      ev('response.failed', {
        response: response('failed', {
          error: { code: 'rate_limit_exceeded', message: 'Rate limit reached for gpt-5' },
        }),
      }),
    ]);
    const error = events.find((e) => e.type === 'error');
    expect(error).toBeDefined();
    const thrown = streamEventError('openai', (error as Extract<ModelEvent, { type: 'error' }>).fields, {});
    expect(thrown).toBeInstanceOf(RateLimitError);
    expect(thrown.providerCode).toBe('rate_limit_exceeded');
    expect(thrown.message).toContain('Rate limit reached for gpt-5');
  });

  it('turns an error event into a typed server error', async () => {
    const events = await decode([
      created,
      ev('error', { code: 'server_error', message: 'The server had an error', param: null }),
    ]);
    const error = events.find((e) => e.type === 'error');
    const thrown = streamEventError('openai', (error as Extract<ModelEvent, { type: 'error' }>).fields, {});
    expect(thrown).toBeInstanceOf(InternalServerError);
    expect(isRetryableError(thrown)).toBe(true);
  });

  it('reports a stream cut before response.completed as truncated (retryable connection error)', async () => {
    const events = await decode([created, ...message.slice(0, 3)]);
    const error = events.at(-1) as Extract<ModelEvent, { type: 'error' }>;
    expect(error).toMatchObject({ type: 'error', truncated: true });
    const thrown = streamEventError('openai', error.fields, { truncated: true });
    expect(thrown).toBeInstanceOf(APIConnectionError);
    expect(joined(events, 'text')).toBe('2 + 2');
  });

  it('decodes a whole response object (a server that answered with JSON) like its stream', async () => {
    const decoder = responsesDecoder();
    const events = decoder.push(
      response('completed', {
        usage,
        output: [
          { id: 'rs_1', type: 'reasoning', summary: [{ type: 'summary_text', text: 'Think.' }] },
          {
            id: 'msg_1',
            type: 'message',
            role: 'assistant',
            content: [{ type: 'output_text', text: 'Four.', annotations: [] }],
          },
          { id: 'fc_1', type: 'function_call', call_id: 'call_1', name: 'f', arguments: '{"a":1}' },
        ],
      }),
    );
    events.push(...decoder.end({ terminated: true }));
    expect(events.map((e) => e.type)).toEqual(['reasoning', 'text', 'toolCall', 'finish']);
    expect(events[2]).toMatchObject({ id: 'call_1', name: 'f', args: { a: 1 } });
    expect(events[3]).toMatchObject({ finishReason: 'tool_calls', usage: { inputTokens: 1200 } });
  });
});

describe('openaiResponses request', () => {
  const start = useServer('openai');

  it('posts to <baseURL>/responses with instructions, input items, flat tools and max_output_tokens', async () => {
    const server = await start({ reply: 'ok' });
    await openaiResponses({
      model: 'gpt-test',
      baseURL: server.baseURL,
      apiKey: 'sk-abc',
      system: 'Be brief.',
      maxTokens: 50,
      temperature: 0.3,
      tools: [{ name: 'weather', description: 'Weather', parameters: z.object({ city: z.string() }) }],
      toolChoice: { name: 'weather' },
    })([
      textPart('Weather in Oslo?', { role: 'user' }),
      part(new Uint8Array(), {
        mimetype: TOOL_CALL_MIMETYPE,
        role: 'model',
        toolCall: { id: 'call_1', name: 'weather', args: { city: 'Oslo' } },
      }),
      part('', { role: 'tool', toolResult: { id: 'call_1', name: 'weather', result: { temp: 3 } } }),
    ]).gather();
    const [request] = server.requests;
    expect(request.path).toBe('/v1/responses');
    expect(request.headers.authorization).toBe('Bearer sk-abc');
    expect(request.body).toEqual({
      model: 'gpt-test',
      instructions: 'Be brief.',
      input: [
        { role: 'user', content: 'Weather in Oslo?' },
        { type: 'function_call', call_id: 'call_1', name: 'weather', arguments: '{"city":"Oslo"}' },
        { type: 'function_call_output', call_id: 'call_1', output: '{"temp":3}' },
      ],
      stream: true,
      store: false,
      temperature: 0.3,
      max_output_tokens: 50,
      tools: [
        {
          type: 'function',
          name: 'weather',
          description: 'Weather',
          parameters: expect.objectContaining({ type: 'object', required: ['city'] }),
        },
      ],
      tool_choice: { type: 'function', name: 'weather' },
    });
  });

  it('refuses the stop option at construction with E_UNSUPPORTED_OPTION', () => {
    let caught: unknown;
    try {
      openaiResponses({ model: 'gpt-test', stop: ['END'] } as never);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(UnsupportedOptionError);
    expect((caught as UnsupportedOptionError).code).toBe('E_UNSUPPORTED_OPTION');
    expect((caught as UnsupportedOptionError).hint).toContain('openai()');
  });

  it('retries an error event that arrives before any output, then streams the answer', async () => {
    const server = await start({
      reply: 'fine now',
      streamError: { after: 0, type: 'server_error', message: 'boom' },
      faultyRequests: 1,
    });
    const parts = await openaiResponses({
      model: 'm',
      baseURL: server.baseURL,
      initialRetryDelayMs: 1,
      maxRetryDelayMs: 2,
    })('Hi').gather();
    expect(server.requests).toHaveLength(2);
    expect(
      parts
        .filter((p) => p.substream === '')
        .map((p) => p.text)
        .join(''),
    ).toBe('fine now');
    expect(parts.some((p) => p.substream === 'status' && /retry 1 of 2/.test(p.text ?? ''))).toBe(true);
  });

  it('fails with the typed error of an error event after output (not retried)', async () => {
    const server = await start({
      reply: 'one two three',
      streamError: { after: 2, type: 'server_error', message: 'midway' },
    });
    const seen: string[] = [];
    await expect(
      (async () => {
        for await (const p of openaiResponses({ model: 'm', baseURL: server.baseURL })('Hi'))
          if (p.substream === '') seen.push(p.text ?? '');
      })(),
    ).rejects.toBeInstanceOf(InternalServerError);
    expect(seen).toEqual(['one', ' two']);
    expect(server.requests).toHaveLength(1);
  });

  it('exposes the responses api in its cache configuration, apart from openai()', async () => {
    const { configOf } = await import('../src/models/config.ts');
    expect(configOf(openaiResponses({ model: 'm' }))).toMatchObject({ provider: 'openai', api: 'responses' });
  });
});
