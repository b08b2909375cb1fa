// Hand-written wire fixtures in each provider's documented format (not
// produced by our own encoder), including the deviations of compatible
// servers, decoded with the real framing and decoders.

import { describe, expect, it } from 'vitest';
import type { ModelEvent } from '../src/models/events.ts';
import type { FakeProvider } from '../src/testing/wire.ts';
import { decodeWire, fromChunks, joined } from './model-helpers.ts';

const decode = (provider: FakeProvider, wire: string) => decodeWire(provider, [Buffer.from(wire, 'utf8')]);
const sse = (payloads: string[], separator = '\n\n') =>
  payloads.map((payload) => `data: ${payload}${separator}`).join('');
const errorOf = (events: ModelEvent[]) => events.find((event) => event.type === 'error');

describe('openai chat completion chunks', () => {
  const head = '"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini"';

  it('skips the role-only first chunk, reads the usage chunk with empty choices, stops at [DONE]', async () => {
    const wire = sse([
      `{${head},"system_fingerprint":"fp_1","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}`,
      `{${head},"choices":[{"index":0,"delta":{"content":"Hello"},"logprobs":null,"finish_reason":null}]}`,
      `{${head},"choices":[{"index":0,"delta":{"content":" there"},"logprobs":null,"finish_reason":null}]}`,
      `{${head},"choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]}`,
      `{${head},"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":12,"total_tokens":21}}`,
      '[DONE]',
      `{${head},"choices":[{"index":0,"delta":{"content":"after done"}}]}`,
    ]);
    const events = await decode('openai', wire);
    expect(events).toEqual([
      { type: 'text', text: 'Hello' },
      { type: 'text', text: ' there' },
      {
        type: 'finish',
        finishReason: 'stop',
        rawFinishReason: 'stop',
        usage: { inputTokens: 9, outputTokens: 12, totalTokens: 21 },
        model: 'gpt-4o-mini',
        responseId: 'chatcmpl-123',
      },
    ]);
  });

  it('accumulates interleaved tool-call fragments by index into whole calls with parsed args', async () => {
    const wire = sse([
      `{${head},"choices":[{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"get_weather","arguments":""}}]},"finish_reason":null}]}`,
      `{${head},"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\\"loc"}}]},"finish_reason":null}]}`,
      `{${head},"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_2","type":"function","function":{"name":"get_time","arguments":""}}]},"finish_reason":null}]}`,
      `{${head},"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":"{}"}}]},"finish_reason":null}]}`,
      `{${head},"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"ation\\":\\"Paris\\"}"}}]},"finish_reason":null}]}`,
      `{${head},"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}`,
      '[DONE]',
    ]);
    const events = await decode('openai', wire);
    expect(events.filter((event) => event.type === 'toolCall')).toEqual([
      { type: 'toolCall', id: 'call_1', name: 'get_weather', args: { location: 'Paris' } },
      { type: 'toolCall', id: 'call_2', name: 'get_time', args: {} },
    ]);
    expect(events.at(-1)).toMatchObject({ type: 'finish', finishReason: 'tool_calls', usage: undefined });
  });

  it('reads reasoning_content (vLLM, DeepSeek) and reasoning (OpenRouter, Ollama) as reasoning', async () => {
    const wire = sse([
      `{${head},"choices":[{"index":0,"delta":{"reasoning_content":"think "},"finish_reason":null}]}`,
      `{${head},"choices":[{"index":0,"delta":{"reasoning":"more"},"finish_reason":null}]}`,
      `{${head},"choices":[{"index":0,"delta":{"content":"answer"},"finish_reason":"stop"}]}`,
    ]);
    const events = await decode('openai', wire);
    expect(joined(events, 'reasoning')).toBe('think more');
    expect(joined(events, 'text')).toBe('answer');
  });

  it("turns OpenAI's mid-stream error object into an error event", async () => {
    const wire = sse([
      `{${head},"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}`,
      '{"error":{"message":"The server had an error","type":"server_error","param":null,"code":null}}',
    ]);
    expect(errorOf(await decode('openai', wire))).toEqual({
      type: 'error',
      fields: { message: 'The server had an error', type: 'server_error' },
    });
  });

  it("reads vLLM's error shape with an integer code", async () => {
    const wire = sse([
      '{"object":"error","message":"max_tokens is too large","type":"BadRequestError","param":null,"code":400}',
    ]);
    expect(errorOf(await decode('openai', wire))).toEqual({
      type: 'error',
      fields: { message: 'max_tokens is too large', type: 'BadRequestError', providerCode: '400', status: 400 },
    });
  });

  it("reads LM Studio's plain string error", async () => {
    expect(errorOf(await decode('openai', sse(['{"error":"Model unloaded."}'])))).toEqual({
      type: 'error',
      fields: { message: 'Model unloaded.' },
    });
  });

  it("ignores OpenRouter's keep-alive comments and fails on finish_reason 'error'", async () => {
    const wire =
      ': OPENROUTER PROCESSING\n\n' +
      sse([`{${head},"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}`]) +
      ': OPENROUTER PROCESSING\n\n' +
      sse([
        `{${head},"error":{"code":502,"message":"Provider returned error"},"choices":[{"index":0,"delta":{"content":""},"finish_reason":"error"}]}`,
      ]);
    const events = await decode('openai', wire);
    expect(events[0]).toEqual({ type: 'text', text: 'Hi' });
    expect(errorOf(events)).toEqual({
      type: 'error',
      fields: { message: 'Provider returned error', providerCode: '502', status: 502 },
    });
  });

  it('treats finish_reason error without an error object as an error', async () => {
    const wire = sse([`{${head},"choices":[{"index":0,"delta":{},"finish_reason":"error"}]}`]);
    expect(errorOf(await decode('openai', wire))?.type).toBe('error');
  });
});

describe('anthropic message events', () => {
  const named = (event: string, data: string) => `event: ${event}\ndata: ${data}\n\n`;
  const start = named(
    'message_start',
    '{"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant", "content": [], "model": "claude-x", "stop_reason": null, "stop_sequence": null, "usage": {"input_tokens": 25, "output_tokens": 1}}}',
  );

  it('streams text deltas, keeps the cumulative output_tokens (replaced, not summed)', async () => {
    const wire =
      start +
      named(
        'content_block_start',
        '{"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}',
      ) +
      named('ping', '{"type": "ping"}') +
      named(
        'content_block_delta',
        '{"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hello"}}',
      ) +
      named(
        'content_block_delta',
        '{"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "!"}}',
      ) +
      named('content_block_stop', '{"type": "content_block_stop", "index": 0}') +
      named(
        'message_delta',
        '{"type": "message_delta", "delta": {"stop_reason": null}, "usage": {"output_tokens": 10}}',
      ) +
      named(
        'message_delta',
        '{"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence":null}, "usage": {"output_tokens": 15}}',
      ) +
      named('message_stop', '{"type": "message_stop"}');
    expect(await decode('anthropic', wire)).toEqual([
      { type: 'text', text: 'Hello' },
      { type: 'text', text: '!' },
      {
        type: 'finish',
        finishReason: 'stop',
        rawFinishReason: 'end_turn',
        usage: { inputTokens: 25, outputTokens: 15, totalTokens: 40 },
        model: 'claude-x',
        responseId: 'msg_1',
      },
    ]);
  });

  it('assembles input_json_delta fragments into one tool call at content_block_stop', async () => {
    const wire =
      start +
      named(
        'content_block_start',
        '{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_01","name":"get_weather","input":{}}}',
      ) +
      named(
        'content_block_delta',
        '{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":""}}',
      ) +
      named(
        'content_block_delta',
        '{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\\"location\\":"}}',
      ) +
      named(
        'content_block_delta',
        '{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":" \\"San Fra"}}',
      ) +
      named(
        'content_block_delta',
        '{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"ncisco, CA\\"}"}}',
      ) +
      named('content_block_stop', '{"type":"content_block_stop","index":1}') +
      named(
        'message_delta',
        '{"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":89}}',
      ) +
      named('message_stop', '{"type":"message_stop"}');
    const events = await decode('anthropic', wire);
    expect(events[0]).toEqual({
      type: 'toolCall',
      id: 'toolu_01',
      name: 'get_weather',
      args: { location: 'San Francisco, CA' },
    });
    expect(events[1]).toMatchObject({
      type: 'finish',
      finishReason: 'tool_calls',
      usage: { inputTokens: 25, outputTokens: 89 },
    });
  });

  it('streams thinking deltas as reasoning and ignores signature deltas', async () => {
    const wire =
      start +
      named(
        'content_block_start',
        '{"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":""}}',
      ) +
      named(
        'content_block_delta',
        '{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"Let me see"}}',
      ) +
      named(
        'content_block_delta',
        '{"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"EqQB"}}',
      ) +
      named('content_block_stop', '{"type":"content_block_stop","index":0}') +
      named('message_stop', '{"type":"message_stop"}');
    expect(joined(await decode('anthropic', wire), 'reasoning')).toBe('Let me see');
  });

  it('turns an error event into an error with its type', async () => {
    const wire =
      start + named('error', '{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}');
    expect(errorOf(await decode('anthropic', wire))).toEqual({
      type: 'error',
      fields: { message: 'Overloaded', type: 'overloaded_error' },
    });
  });

  it('reports a stream that ends before message_stop as truncated', async () => {
    const events = await decode('anthropic', start);
    expect(errorOf(events)).toMatchObject({ type: 'error', truncated: true });
  });
});

describe('ollama /api/chat lines', () => {
  it('streams content, ends with the metrics object (usage from prompt_eval_count / eval_count)', async () => {
    const wire = [
      '{"model":"llama3.2","created_at":"2023-08-04T08:52:19.385406455-07:00","message":{"role":"assistant","content":"The","images":null},"done":false}',
      '{"model":"llama3.2","created_at":"2023-08-04T08:52:19.385406455-07:00","message":{"role":"assistant","content":" sky"},"done":false}',
      '{"model":"llama3.2","created_at":"2023-08-04T19:22:45.499127Z","message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","total_duration":4883583458,"load_duration":1334875,"prompt_eval_count":26,"prompt_eval_duration":342546000,"eval_count":282,"eval_duration":4535599000}',
    ].join('\n');
    expect(await decode('ollama', wire)).toEqual([
      { type: 'text', text: 'The' },
      { type: 'text', text: ' sky' },
      {
        type: 'finish',
        finishReason: 'stop',
        rawFinishReason: 'stop',
        usage: { inputTokens: 26, outputTokens: 282, totalTokens: 308 },
      },
    ]);
  });

  it('reads thinking and whole tool calls with object arguments', async () => {
    const wire = [
      '{"model":"qwen3","message":{"role":"assistant","content":"","thinking":"hmm"},"done":false}',
      '{"model":"qwen3","message":{"role":"assistant","content":"","tool_calls":[{"function":{"name":"get_weather","arguments":{"city":"Toronto"}}}]},"done":false}',
      '{"model":"qwen3","message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","prompt_eval_count":1,"eval_count":2}',
    ].join('\n');
    const events = await decode('ollama', wire);
    expect(events).toEqual([
      { type: 'reasoning', text: 'hmm' },
      { type: 'toolCall', id: 'call_0', name: 'get_weather', args: { city: 'Toronto' } },
      {
        type: 'finish',
        finishReason: 'tool_calls',
        rawFinishReason: 'stop',
        usage: { inputTokens: 1, outputTokens: 2, totalTokens: 3 },
      },
    ]);
  });

  it('turns an {"error": ...} line into an error event', async () => {
    const wire =
      '{"model":"m","message":{"role":"assistant","content":"a"},"done":false}\n{"error":"an error was encountered while running the model: unexpected EOF"}\n';
    expect(errorOf(await decode('ollama', wire))).toEqual({
      type: 'error',
      fields: { message: 'an error was encountered while running the model: unexpected EOF' },
    });
  });

  it('reports a stream without the done object as truncated', async () => {
    const events = await decode('ollama', '{"model":"m","message":{"role":"assistant","content":"a"},"done":false}\n');
    expect(errorOf(events)).toMatchObject({ truncated: true });
  });
});

describe('gemini streamGenerateContent SSE', () => {
  const first =
    '{"candidates": [{"content": {"parts": [{"text": "The"}],"role": "model"},"index": 0}],"usageMetadata": {"promptTokenCount": 8,"candidatesTokenCount": 1,"totalTokenCount": 9},"modelVersion": "gemini-2.0-flash"}';
  const last =
    '{"candidates": [{"content": {"parts": [{"text": " sky is blue."}],"role": "model"},"finishReason": "STOP","index": 0}],"usageMetadata": {"promptTokenCount": 8,"candidatesTokenCount": 5,"totalTokenCount": 13},"modelVersion": "gemini-2.0-flash"}';

  it('reads CRLF-framed events without a terminator; repeated usage is cumulative (last wins)', async () => {
    expect(await decode('gemini', sse([first, last], '\r\n\r\n'))).toEqual([
      { type: 'text', text: 'The' },
      { type: 'text', text: ' sky is blue.' },
      {
        type: 'finish',
        finishReason: 'stop',
        rawFinishReason: 'STOP',
        usage: { inputTokens: 8, outputTokens: 5, totalTokens: 13 },
        model: 'gemini-2.0-flash',
      },
    ]);
  });

  it('delivers a last event that lacks its blank line', async () => {
    const wire = `data: ${first}\r\n\r\ndata: ${last}\r\n`;
    expect(joined(await decode('gemini', wire), 'text')).toBe('The sky is blue.');
  });

  it('reads thought parts as reasoning and function calls as tool calls', async () => {
    const wire = sse(
      [
        '{"candidates":[{"content":{"parts":[{"text":"planning","thought":true}],"role":"model"},"index":0}]}',
        '{"candidates":[{"content":{"parts":[{"functionCall":{"name":"find","args":{"q":"x"}}}],"role":"model"},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":4,"thoughtsTokenCount":2,"totalTokenCount":9}}',
      ],
      '\r\n\r\n',
    );
    expect(await decode('gemini', wire)).toEqual([
      { type: 'reasoning', text: 'planning' },
      { type: 'toolCall', id: 'call_0', name: 'find', args: { q: 'x' } },
      {
        type: 'finish',
        finishReason: 'tool_calls',
        rawFinishReason: 'STOP',
        usage: { inputTokens: 3, outputTokens: 6, totalTokens: 9, reasoningTokens: 2 },
      },
    ]);
  });

  it('turns an error object into an error event', async () => {
    const wire = sse(
      ['{"error":{"code":503,"message":"The model is overloaded.","status":"UNAVAILABLE"}}'],
      '\r\n\r\n',
    );
    expect(errorOf(await decode('gemini', wire))).toEqual({
      type: 'error',
      fields: { message: 'The model is overloaded.', type: 'UNAVAILABLE', providerCode: '503', status: 503 },
    });
  });
});

describe('servers that ignore stream: true and answer with one JSON body', () => {
  it('reads a whole OpenAI chat completion', async () => {
    const { jsonFrames } = await import('../src/models/run.ts');
    const { openAIDecoder } = await import('../src/models/wire/openai.ts');
    const body = JSON.stringify({
      id: 'c',
      object: 'chat.completion',
      choices: [{ index: 0, message: { role: 'assistant', content: 'Whole answer' }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 },
    });
    const decoder = openAIDecoder();
    const events: ModelEvent[] = [];
    for await (const frame of jsonFrames(fromChunks([Buffer.from(body)]), 'openai'))
      events.push(...decoder.push(frame.value));
    events.push(...decoder.end());
    expect(events).toEqual([
      { type: 'text', text: 'Whole answer' },
      {
        type: 'finish',
        finishReason: 'stop',
        rawFinishReason: 'stop',
        usage: { inputTokens: 3, outputTokens: 2, totalTokens: 5 },
        responseId: 'c',
      },
    ]);
  });

  it('reads a whole Anthropic message', async () => {
    const { anthropicDecoder } = await import('../src/models/wire/anthropic.ts');
    const decoder = anthropicDecoder();
    const events = [
      ...decoder.push({
        type: 'message',
        content: [
          { type: 'text', text: 'Hi' },
          { type: 'tool_use', id: 't1', name: 'f', input: { a: 1 } },
        ],
        stop_reason: 'tool_use',
        usage: { input_tokens: 4, output_tokens: 6 },
      }),
      ...decoder.end(),
    ];
    expect(events).toEqual([
      { type: 'text', text: 'Hi' },
      { type: 'toolCall', id: 't1', name: 'f', args: { a: 1 } },
      {
        type: 'finish',
        finishReason: 'tool_calls',
        rawFinishReason: 'tool_use',
        usage: { inputTokens: 4, outputTokens: 6, totalTokens: 10 },
      },
    ]);
  });
});
