// What the real services send, written from each provider's documented wire
// format (API references and the official SDKs' stream types), never from
// our own encoder: Mistral content arrays, refusals, Anthropic server tools,
// citations and thinking signatures, Gemini server-side calls, thought
// signatures, truncation, streamed arguments and inline images, full usage,
// response identity and logprobs.

import { type Part, part } from '@sluice/core';
import { describe, expect, it } from 'vitest';
import { isRetryableError } from '../src/http/retry-policy.ts';
import type { ModelEvent } from '../src/models/events.ts';
import { eventToPart } from '../src/models/model.ts';
import { streamEventError } from '../src/models/run.ts';
import { anthropicBody } from '../src/models/wire/anthropic.ts';
import { geminiBody } from '../src/models/wire/gemini.ts';
import { openAIBody } from '../src/models/wire/openai.ts';
import type { FakeProvider } from '../src/testing/wire.ts';
import { decodeWire, joined, userText } from './model-helpers.ts';

const decode = (provider: FakeProvider, wire: string) => decodeWire(provider, [Buffer.from(wire, 'utf8')]);
const sse = (payloads: string[], separator = '\n\n') =>
  payloads.map((payload) => `data: ${payload}${separator}`).join('');
const named = (event: string, data: string) => `event: ${event}\ndata: ${data}\n\n`;
const finishOf = (events: ModelEvent[]) => events.find((event) => event.type === 'finish');
const errorOf = (events: ModelEvent[]) => events.find((event) => event.type === 'error');
const source = { provider: 'test', model: 'asked-for' };
const partsOf = (events: ModelEvent[]): Part[] =>
  events.flatMap((event) => (event.type === 'error' ? [] : [eventToPart(event, source)]));

describe('OpenAI-compatible: content arrays, reasoning fields, refusals, usage, identity, logprobs', () => {
  const head = '"id":"a1b2","object":"chat.completion.chunk","created":1750000000,"model":"magistral-medium-2507"';
  const chunk = (delta: string, finish = 'null') =>
    `{${head},"choices":[{"index":0,"delta":${delta},"finish_reason":${finish}}]}`;

  it("splits Mistral's typed content chunks: thinking to reasoning, text to the answer", async () => {
    const wire = sse([
      chunk(
        '{"role":"assistant","content":[{"type":"thinking","thinking":[{"type":"text","text":"Okay, 6 times 7"}]}]}',
      ),
      chunk('{"content":[{"type":"thinking","thinking":[{"type":"text","text":" is 42."}]}]}'),
      chunk('{"content":[{"type":"text","text":"The answer"}]}'),
      chunk('{"content":[{"type":"text","text":" is 42."}]}', '"stop"'),
      `{${head},"choices":[],"usage":{"prompt_tokens":10,"completion_tokens":20,"total_tokens":30}}`,
      '[DONE]',
    ]);
    const events = await decode('openai', wire);
    expect(joined(events, 'reasoning')).toBe('Okay, 6 times 7 is 42.');
    expect(joined(events, 'text')).toBe('The answer is 42.');
    expect(finishOf(events)).toMatchObject({ finishReason: 'stop', usage: { outputTokens: 20 } });
  });

  it('keeps a content chunk of an unknown type as an unknown part instead of dropping it', async () => {
    const wire = sse([
      chunk('{"content":[{"type":"reference","reference_ids":[0,2]}]}'),
      chunk('{"content":"ok"}', '"stop"'),
      '[DONE]',
    ]);
    const events = await decode('openai', wire);
    expect(events[0]).toEqual({
      type: 'unknown',
      value: { type: 'reference', reference_ids: [0, 2] },
      metadata: { chunkType: 'reference' },
    });
    const unknown = partsOf(events)[0];
    expect(unknown.substream).toBe('unknown');
    expect(JSON.parse(unknown.text!)).toEqual({ type: 'reference', reference_ids: [0, 2] });
  });

  it('streams delta.refusal on substream refusal and finishes with refusal', async () => {
    const wire = sse([
      `{"id":"chatcmpl-9","object":"chat.completion.chunk","created":1,"model":"gpt-4o-2024-08-06","choices":[{"index":0,"delta":{"role":"assistant","content":null,"refusal":""},"logprobs":null,"finish_reason":null}]}`,
      `{"id":"chatcmpl-9","object":"chat.completion.chunk","created":1,"model":"gpt-4o-2024-08-06","choices":[{"index":0,"delta":{"refusal":"I'm sorry, I can't"},"logprobs":null,"finish_reason":null}]}`,
      `{"id":"chatcmpl-9","object":"chat.completion.chunk","created":1,"model":"gpt-4o-2024-08-06","choices":[{"index":0,"delta":{"refusal":" help with that."},"logprobs":null,"finish_reason":null}]}`,
      `{"id":"chatcmpl-9","object":"chat.completion.chunk","created":1,"model":"gpt-4o-2024-08-06","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]}`,
      '[DONE]',
    ]);
    const events = await decode('openai', wire);
    expect(joined(events, 'text')).toBe('');
    const parts = partsOf(events);
    expect(
      parts
        .filter((p) => p.substream === 'refusal')
        .map((p) => p.text)
        .join(''),
    ).toBe("I'm sorry, I can't help with that.");
    expect(finishOf(events)).toMatchObject({ finishReason: 'refusal', rawFinishReason: 'stop' });
  });

  it('breaks out cached and reasoning tokens (OpenAI details, DeepSeek cache hits); totals add up', async () => {
    const openaiUsage =
      '{"prompt_tokens":2006,"completion_tokens":300,"total_tokens":2306,"prompt_tokens_details":{"cached_tokens":1920,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":128,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}';
    const events = await decode(
      'openai',
      sse([chunk('{"content":"x"}', '"stop"'), `{${head},"choices":[],"usage":${openaiUsage}}`, '[DONE]']),
    );
    const usage = finishOf(events)?.type === 'finish' ? finishOf(events) : undefined;
    expect(usage).toMatchObject({
      usage: {
        inputTokens: 2006,
        outputTokens: 300,
        totalTokens: 2306,
        cachedInputTokens: 1920,
        reasoningTokens: 128,
      },
    });
    const deepseek =
      '{"prompt_tokens":64,"completion_tokens":5,"total_tokens":69,"prompt_cache_hit_tokens":60,"prompt_cache_miss_tokens":4}';
    const second = await decode(
      'openai',
      sse([
        `{"id":"d","object":"chat.completion.chunk","created":1,"model":"deepseek-chat","choices":[{"index":0,"delta":{"content":"x"},"finish_reason":"stop"}],"usage":${deepseek}}`,
        '[DONE]',
      ]),
    );
    expect(finishOf(second)).toMatchObject({
      usage: { inputTokens: 64, outputTokens: 5, totalTokens: 69, cachedInputTokens: 60 },
    });
  });

  it("reports the service's model and response id, not the requested ones, on the status part", async () => {
    const wire = sse([chunk('{"content":"hi"}', '"stop"'), '[DONE]']);
    const status = partsOf(await decode('openai', wire)).at(-1)!;
    expect(status.substream).toBe('status');
    expect(status.text).toBe('');
    expect(status.metadata).toMatchObject({
      model: 'magistral-medium-2507',
      requestedModel: 'asked-for',
      responseId: 'a1b2',
      finishReason: 'stop',
    });
  });

  it('asks for logprobs when the option is set and puts them on the text part', async () => {
    const body = openAIBody([userText('hi')], { model: 'gpt-4o', logprobs: 2 });
    expect(body).toMatchObject({ logprobs: true, top_logprobs: 2 });
    expect(openAIBody([userText('hi')], { model: 'gpt-4o' })).not.toHaveProperty('logprobs');
    const logprobs =
      '{"content":[{"token":"Hi","logprob":-0.0019,"bytes":[72,105],"top_logprobs":[{"token":"Hi","logprob":-0.0019,"bytes":[72,105]},{"token":"Hello","logprob":-6.3,"bytes":[72,101,108,108,111]}]}],"refusal":null}';
    const wire = sse([
      `{${head},"choices":[{"index":0,"delta":{"content":"Hi"},"logprobs":${logprobs},"finish_reason":null}]}`,
      chunk('{}', '"stop"'),
      '[DONE]',
    ]);
    const text = partsOf(await decode('openai', wire))[0];
    expect(text.text).toBe('Hi');
    expect(text.metadata.logprobs).toEqual(JSON.parse(logprobs).content);
  });
});

describe('Anthropic: server tools, citations, thinking signatures, refusal, cache usage', () => {
  const start = (usage = '{"input_tokens": 2679, "output_tokens": 3}') =>
    named(
      'message_start',
      `{"type":"message_start","message":{"id":"msg_01G9","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[],"stop_reason":null,"stop_sequence":null,"usage":${usage}}}`,
    );
  const stop = (reason: string, usage = '{"output_tokens": 510}') =>
    named(
      'message_delta',
      `{"type":"message_delta","delta":{"stop_reason":"${reason}","stop_sequence":null},"usage":${usage}}`,
    ) + named('message_stop', '{"type":"message_stop"}');

  const webSearch =
    start() +
    named('content_block_start', '{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}') +
    named(
      'content_block_delta',
      '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"I\'ll check."}}',
    ) +
    named('content_block_stop', '{"type":"content_block_stop","index":0}') +
    named(
      'content_block_start',
      '{"type":"content_block_start","index":1,"content_block":{"type":"server_tool_use","id":"srvtoolu_014hJH82Qum7Td6UV8gDXThB","name":"web_search","input":{}}}',
    ) +
    named(
      'content_block_delta',
      '{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\\"query\\": \\"weather NYC today\\"}"}}',
    ) +
    named('content_block_stop', '{"type":"content_block_stop","index":1}') +
    named(
      'content_block_start',
      '{"type":"content_block_start","index":2,"content_block":{"type":"web_search_tool_result","tool_use_id":"srvtoolu_014hJH82Qum7Td6UV8gDXThB","content":[{"type":"web_search_result","title":"Weather in New York City","url":"https://weather.example/nyc","encrypted_content":"Ev0DCioIAxgCIiQ3NmU4","page_age":null}]}}',
    ) +
    named('content_block_stop', '{"type":"content_block_stop","index":2}') +
    named('content_block_start', '{"type":"content_block_start","index":3,"content_block":{"type":"text","text":""}}') +
    named(
      'content_block_delta',
      '{"type":"content_block_delta","index":3,"delta":{"type":"citations_delta","citation":{"type":"web_search_result_location","cited_text":"Sunny, 24C","url":"https://weather.example/nyc","title":"Weather in New York City","encrypted_index":"Eo8BCioIAhgBIiQyYjQ0"}}}',
    ) +
    named(
      'content_block_delta',
      '{"type":"content_block_delta","index":3,"delta":{"type":"text_delta","text":"It is sunny."}}',
    ) +
    named('content_block_stop', '{"type":"content_block_stop","index":3}') +
    stop('end_turn', '{"output_tokens": 510, "server_tool_use": {"web_search_requests": 1}}');

  it('exposes server_tool_use and web_search_tool_result as server-run parts, never as client tool calls', async () => {
    const events = await decode('anthropic', webSearch);
    expect(events.some((event) => event.type === 'toolCall')).toBe(false);
    expect(events.filter((event) => event.type === 'serverTool')).toMatchObject([
      {
        kind: 'call',
        id: 'srvtoolu_014hJH82Qum7Td6UV8gDXThB',
        name: 'web_search',
        value: { query: 'weather NYC today' },
      },
      { kind: 'result', id: 'srvtoolu_014hJH82Qum7Td6UV8gDXThB', name: 'web_search' },
    ]);
    expect(finishOf(events)).toMatchObject({ finishReason: 'stop', rawFinishReason: 'end_turn' });
    const parts = partsOf(events);
    const server = parts.filter((p) => p.substream === 'server_tool');
    expect(server).toHaveLength(2);
    for (const p of server) {
      expect(p.toolCall).toBeUndefined();
      expect(p.metadata.executedBy).toBe('server');
    }
    expect(server[0].mimetype).toBe('application/json; type=ServerToolCall');
    expect(server[1].mimetype).toBe('application/json; type=ServerToolResult');
  });

  it('keeps citations_delta as metadata of the text of its block', async () => {
    const parts = partsOf(await decode('anthropic', webSearch));
    const cited = parts.find((p) => p.text === 'It is sunny.')!;
    expect(cited.metadata.citations).toEqual([
      {
        type: 'web_search_result_location',
        cited_text: 'Sunny, 24C',
        url: 'https://weather.example/nyc',
        title: 'Weather in New York City',
        encrypted_index: 'Eo8BCioIAhgBIiQyYjQ0',
      },
    ]);
    expect(parts.find((p) => p.text === "I'll check.")!.metadata.citations).toBeUndefined();
  });

  it('sends the server tool blocks back verbatim in the assistant turn', () => {
    return decode('anthropic', webSearch).then((events) => {
      const history = [userText('weather?'), ...partsOf(events).filter((p) => p.substream !== 'status')];
      const body = anthropicBody([...history, userText('thanks')], { model: 'claude' });
      const assistant = (body.messages as { role: string; content: Record<string, unknown>[] }[])[1];
      expect(assistant.role).toBe('assistant');
      expect(assistant.content.map((block) => block.type)).toEqual([
        'text',
        'server_tool_use',
        'web_search_tool_result',
        'text',
      ]);
      expect(assistant.content[1]).toEqual({
        type: 'server_tool_use',
        id: 'srvtoolu_014hJH82Qum7Td6UV8gDXThB',
        name: 'web_search',
        input: { query: 'weather NYC today' },
      });
    });
  });

  const thinkingThenTool =
    start() +
    named(
      'content_block_start',
      '{"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"","signature":""}}',
    ) +
    named(
      'content_block_delta',
      '{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"I need the weather."}}',
    ) +
    named(
      'content_block_delta',
      '{"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds"}}',
    ) +
    named('content_block_stop', '{"type":"content_block_stop","index":0}') +
    named(
      'content_block_start',
      '{"type":"content_block_start","index":1,"content_block":{"type":"redacted_thinking","data":"EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIw"}}',
    ) +
    named('content_block_stop', '{"type":"content_block_stop","index":1}') +
    named(
      'content_block_start',
      '{"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_01","name":"get_weather","input":{}}}',
    ) +
    named(
      'content_block_delta',
      '{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\\"city\\":\\"Paris\\"}"}}',
    ) +
    named('content_block_stop', '{"type":"content_block_stop","index":2}') +
    stop('tool_use');

  it("keeps each thinking block's signature and redacted_thinking, and sends them back before the tool_use", async () => {
    const events = await decode('anthropic', thinkingThenTool);
    expect(joined(events, 'reasoning')).toBe('I need the weather.');
    const parts = partsOf(events);
    const markers = parts.filter((p) => p.substream === 'reasoning' && p.text === '');
    expect(markers.map((p) => p.metadata)).toEqual([
      { signature: 'EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds', thinking: 'I need the weather.' },
      { redactedThinking: 'EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIw' },
    ]);
    const call = parts.find((p) => p.toolCall)!;
    const result = part('', { role: 'tool', toolResult: { id: 'toolu_01', name: 'get_weather', result: 'sunny' } });
    const body = anthropicBody([userText('weather in Paris?'), ...parts, result], { model: 'claude' });
    const messages = body.messages as { role: string; content: Record<string, unknown>[] }[];
    expect(messages[1]).toEqual({
      role: 'assistant',
      content: [
        {
          type: 'thinking',
          thinking: 'I need the weather.',
          signature: 'EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds',
        },
        { type: 'redacted_thinking', data: 'EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIw' },
        { type: 'tool_use', id: 'toolu_01', name: 'get_weather', input: { city: 'Paris' } },
      ],
    });
    expect(call.toolCall).toEqual({ id: 'toolu_01', name: 'get_weather', args: { city: 'Paris' } });
    // The thinking text itself is not sent a second time as a text block.
    expect(JSON.stringify(messages)).not.toContain('"type":"text","text":"I need');
  });

  it('finishes a refusal with finish reason refusal', async () => {
    const wire =
      start() +
      named(
        'content_block_start',
        '{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}',
      ) +
      named(
        'content_block_delta',
        '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"I"}}',
      ) +
      named('content_block_stop', '{"type":"content_block_stop","index":0}') +
      stop('refusal');
    expect(finishOf(await decode('anthropic', wire))).toMatchObject({
      finishReason: 'refusal',
      rawFinishReason: 'refusal',
    });
  });

  it('breaks out cache reads and writes; inputTokens is their sum with input_tokens', async () => {
    const wire =
      start('{"input_tokens":50,"cache_creation_input_tokens":1200,"cache_read_input_tokens":3000,"output_tokens":1}') +
      stop('end_turn', '{"output_tokens": 80}');
    expect(finishOf(await decode('anthropic', wire))).toMatchObject({
      usage: {
        inputTokens: 4250,
        outputTokens: 80,
        totalTokens: 4330,
        cachedInputTokens: 3000,
        cacheCreationInputTokens: 1200,
      },
      model: 'claude-sonnet-4-5-20250929',
      responseId: 'msg_01G9',
    });
  });
});

describe('Gemini: server-side calls, thought signatures, truncation, streamed arguments, images, usage', () => {
  const crlf = (payloads: string[]) => sse(payloads, '\r\n\r\n');
  const candidate = (parts: string, finish?: string) =>
    `{"candidates":[{"content":{"parts":[${parts}],"role":"model"},${finish ? `"finishReason":"${finish}",` : ''}"index":0}],"modelVersion":"gemini-3-pro-preview","responseId":"resp-77"}`;

  it('treats a functionCall answered by a functionResponse in the same stream as server-run; STOP stays stop', async () => {
    const wire = crlf([
      candidate('{"functionCall":{"id":"fc1","name":"search_docs","args":{"q":"quota"}}}'),
      candidate('{"functionResponse":{"id":"fc1","name":"search_docs","response":{"hits":3}}}'),
      candidate('{"text":"Three documents mention it."}', 'STOP'),
    ]);
    const events = await decode('gemini', wire);
    expect(events.some((event) => event.type === 'toolCall')).toBe(false);
    expect(events.filter((event) => event.type === 'serverTool')).toEqual([
      { type: 'serverTool', kind: 'call', id: 'fc1', name: 'search_docs', value: { q: 'quota' } },
      { type: 'serverTool', kind: 'result', id: 'fc1', name: 'search_docs', value: { hits: 3 } },
    ]);
    expect(finishOf(events)).toMatchObject({
      finishReason: 'stop',
      model: 'gemini-3-pro-preview',
      responseId: 'resp-77',
    });
  });

  it('still reports an unanswered functionCall as a client tool call with finish tool_calls', async () => {
    const events = await decode('gemini', crlf([candidate('{"functionCall":{"name":"f","args":{}}}', 'STOP')]));
    expect(events.filter((event) => event.type === 'toolCall')).toHaveLength(1);
    expect(finishOf(events)).toMatchObject({ finishReason: 'tool_calls' });
  });

  it('keeps thoughtSignature on the call and sends it back with the functionCall', async () => {
    const wire = crlf([
      candidate(
        '{"functionCall":{"name":"check_flight","args":{"flight":"AA100"}},"thoughtSignature":"CpcHAdHtim9+q4rstcbvQC0ic4x1"}',
        'STOP',
      ),
    ]);
    const parts = partsOf(await decode('gemini', wire));
    const call = parts.find((p) => p.toolCall)!;
    expect(call.metadata.thoughtSignature).toBe('CpcHAdHtim9+q4rstcbvQC0ic4x1');
    const result = part('', {
      role: 'tool',
      toolResult: { id: call.toolCall!.id, name: 'check_flight', result: { status: 'delayed' } },
    });
    const body = geminiBody([userText('is AA100 on time?'), call, result], { model: 'gemini-3-pro-preview' });
    expect((body.contents as unknown[])[1]).toEqual({
      role: 'model',
      parts: [
        {
          functionCall: { name: 'check_flight', args: { flight: 'AA100' } },
          thoughtSignature: 'CpcHAdHtim9+q4rstcbvQC0ic4x1',
        },
      ],
    });
  });

  it('keeps a signature that arrives on an empty text part and sends that part back', async () => {
    const wire = crlf([candidate('{"text":"Hello"}'), candidate('{"text":"","thoughtSignature":"SIG_B"}', 'STOP')]);
    const parts = partsOf(await decode('gemini', wire)).filter((p) => p.substream === '');
    expect(parts.map((p) => [p.text, p.metadata.thoughtSignature])).toEqual([
      ['Hello', undefined],
      ['', 'SIG_B'],
    ]);
    const body = geminiBody([userText('hi'), ...parts, userText('again')], { model: 'g' });
    expect((body.contents as { parts: unknown[] }[])[1].parts).toEqual([
      { text: 'Hello' },
      { text: '', thoughtSignature: 'SIG_B' },
    ]);
  });

  it('fails a stream that ends before any finishReason as truncated (retryable)', async () => {
    const events = await decode('gemini', crlf([candidate('{"text":"The sky"}')]));
    const error = errorOf(events);
    expect(error).toMatchObject({ type: 'error', truncated: true });
    expect(events.some((event) => event.type === 'finish')).toBe(false);
    const thrown = streamEventError('gemini', error!.type === 'error' ? error!.fields : {}, { truncated: true });
    expect(thrown.name).toBe('APIConnectionError');
    expect(isRetryableError(thrown)).toBe(true);
  });

  it("assembles Vertex's streamed function-call arguments into one call", async () => {
    const wire = crlf([
      candidate('{"functionCall":{"name":"get_weather","willContinue":true}}'),
      candidate(
        '{"functionCall":{"partialArgs":[{"jsonPath":"$.location","stringValue":"Bos","willContinue":true}],"willContinue":true}}',
      ),
      candidate(
        '{"functionCall":{"partialArgs":[{"jsonPath":"$.location","stringValue":"ton, MA"}],"willContinue":true}}',
      ),
      candidate(
        '{"functionCall":{"partialArgs":[{"jsonPath":"$.days","numberValue":3},{"jsonPath":"$.units.metric","boolValue":true}],"willContinue":false}}',
      ),
      candidate('{"functionCall":{}}', 'STOP'),
    ]);
    const events = await decode('gemini', wire);
    expect(events.filter((event) => event.type === 'toolCall')).toEqual([
      {
        type: 'toolCall',
        id: 'call_0',
        name: 'get_weather',
        args: { location: 'Boston, MA', days: 3, units: { metric: true } },
      },
    ]);
    expect(finishOf(events)).toMatchObject({ finishReason: 'tool_calls' });
  });

  it('fails clearly on a nameless functionCall that belongs to no streamed call', async () => {
    const events = await decode('gemini', crlf([candidate('{"functionCall":{"args":{}}}', 'STOP')]));
    expect(events.some((event) => event.type === 'toolCall')).toBe(false);
    const error = errorOf(events);
    expect(error).toMatchObject({ type: 'error', unexpected: true });
    const thrown = streamEventError('gemini', error!.type === 'error' ? error!.fields : {}, { unexpected: true });
    expect(thrown.code).toBe('E_BAD_RESPONSE');
    expect(thrown.message).toMatch(/no name/);
    expect(isRetryableError(thrown)).toBe(false);
  });

  it('turns inlineData into a data part with its mimetype', async () => {
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    const wire = crlf([
      candidate(
        `{"text":"Here it is:"},{"inlineData":{"mimeType":"image/png","data":"${png.toString('base64')}"}}`,
        'STOP',
      ),
    ]);
    const image = partsOf(await decode('gemini', wire)).find((p) => p.mimetype === 'image/png')!;
    expect(image.role).toBe('model');
    expect(Buffer.from(image.data!)).toEqual(png);
  });

  it('breaks out cached, thought and tool-use prompt tokens; input and output add up to the total', async () => {
    const wire = crlf([
      `{"candidates":[{"content":{"parts":[{"text":"ok"}],"role":"model"},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":100,"cachedContentTokenCount":60,"candidatesTokenCount":20,"toolUsePromptTokenCount":30,"thoughtsTokenCount":50,"totalTokenCount":200}}`,
    ]);
    const finish = finishOf(await decode('gemini', wire));
    expect(finish).toMatchObject({
      usage: {
        inputTokens: 130,
        outputTokens: 70,
        totalTokens: 200,
        cachedInputTokens: 60,
        reasoningTokens: 50,
        toolUsePromptTokens: 30,
      },
    });
  });

  it('asks for logprobs with responseLogprobs and attaches logprobsResult to the text', async () => {
    expect(geminiBody([userText('hi')], { model: 'g', logprobs: 3 }).generationConfig).toEqual({
      responseLogprobs: true,
      logprobs: 3,
    });
    const result =
      '{"topCandidates":[{"candidates":[{"token":"ok","logProbability":-0.01}]}],"chosenCandidates":[{"token":"ok","logProbability":-0.01}]}';
    const wire = crlf([
      `{"candidates":[{"content":{"parts":[{"text":"ok"}],"role":"model"},"finishReason":"STOP","logprobsResult":${result},"index":0}]}`,
    ]);
    const text = partsOf(await decode('gemini', wire))[0];
    expect(text.metadata.logprobs).toEqual(JSON.parse(result));
  });
});

describe('the status part', () => {
  it('has empty text, so printing every part prints only the answer', async () => {
    const wire = sse([
      '{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}',
      '[DONE]',
    ]);
    const printed = partsOf(await decode('openai', wire))
      .map((p) => p.text ?? '')
      .join('');
    expect(printed).toBe('Hi');
  });
});
