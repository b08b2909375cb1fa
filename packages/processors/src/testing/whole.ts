// The fake server's non-streaming answers: a scripted reply as the one JSON
// body each provider returns when the request does not stream (OpenAI
// `chat.completion`, Anthropic `message`, Ollama's `done: true` object,
// Gemini's `GenerateContentResponse`), and Gemini's streamed JSON array
// (`:streamGenerateContent` without `alt=sse`).

import { splitIntoTokens } from '../models/tokens.ts';
import type { EncodeOptions, FakeProvider, FakeReply, WireChunk } from './wire.ts';

function joined(value: string | readonly string[] | undefined): string {
  if (value === undefined) return '';
  return typeof value === 'string' ? value : value.join('');
}

function chunkCount(value: string | readonly string[] | undefined): number {
  if (value === undefined) return 0;
  return typeof value === 'string' ? splitIntoTokens(value).length : value.length;
}

function usageOf(reply: FakeReply): { inputTokens: number; outputTokens: number } {
  return reply.usage ?? { inputTokens: 0, outputTokens: chunkCount(reply.text) + chunkCount(reply.reasoning) };
}

/**
 * The whole JSON body `provider` answers for `reply` to a request that does not stream; `n` (OpenAI)
 * gives that many choices. Pure.
 */
export function wholeReply(
  provider: FakeProvider,
  reply: FakeReply,
  options: EncodeOptions & { n?: number },
): Record<string, unknown> {
  const text = joined(reply.text);
  const reasoning = joined(reply.reasoning);
  const calls = reply.toolCalls ?? [];
  const usage = usageOf(reply);
  switch (provider) {
    case 'openai': {
      const message: Record<string, unknown> = { role: 'assistant', content: text, refusal: null };
      if (reasoning !== '') message[options.dialect === 'openrouter' ? 'reasoning' : 'reasoning_content'] = reasoning;
      if (calls.length > 0) {
        message.content = text === '' ? null : text;
        message.tool_calls = calls.map((call, index) => ({
          id: call.id ?? `call_${index}`,
          type: 'function',
          function: { name: call.name, arguments: JSON.stringify(call.args ?? {}) },
        }));
      }
      const finish = reply.finishReason ?? (calls.length > 0 ? 'tool_calls' : 'stop');
      return {
        id: 'chatcmpl-fake',
        object: 'chat.completion',
        created: 1_700_000_000,
        model: options.model,
        system_fingerprint: null,
        choices: Array.from({ length: options.n ?? 1 }, (_, index) => ({
          index,
          message,
          logprobs: null,
          finish_reason: finish,
        })),
        usage: {
          prompt_tokens: usage.inputTokens,
          completion_tokens: usage.outputTokens,
          total_tokens: usage.inputTokens + usage.outputTokens,
        },
      };
    }
    case 'anthropic': {
      const content: unknown[] = [];
      if (reasoning !== '') content.push({ type: 'thinking', thinking: reasoning, signature: 'c2lnbmF0dXJl' });
      if (text !== '') content.push({ type: 'text', text });
      calls.forEach((call, n) => {
        content.push({ type: 'tool_use', id: call.id ?? `toolu_${n}`, name: call.name, input: call.args ?? {} });
      });
      return {
        id: 'msg_fake',
        type: 'message',
        role: 'assistant',
        model: options.model,
        content,
        stop_reason: reply.finishReason ?? (calls.length > 0 ? 'tool_use' : 'end_turn'),
        stop_sequence: null,
        usage: { input_tokens: usage.inputTokens, output_tokens: usage.outputTokens },
      };
    }
    case 'ollama':
      return {
        model: options.model,
        created_at: '2024-01-01T00:00:00.000000Z',
        message: {
          role: 'assistant',
          content: text,
          ...(reasoning !== '' ? { thinking: reasoning } : {}),
          ...(calls.length > 0
            ? {
                tool_calls: calls.map((call, index) => ({
                  ...(call.id ? { id: call.id } : {}),
                  function: { index, name: call.name, arguments: call.args ?? {} },
                })),
              }
            : {}),
        },
        done: true,
        done_reason: reply.finishReason ?? 'stop',
        total_duration: 5_000_000,
        load_duration: 1_000_000,
        prompt_eval_count: usage.inputTokens,
        prompt_eval_duration: 1_000_000,
        eval_count: usage.outputTokens,
        eval_duration: 3_000_000,
      };
    case 'gemini': {
      const parts: unknown[] = [];
      if (reasoning !== '') parts.push({ text: reasoning, thought: true });
      if (text !== '') parts.push({ text });
      for (const call of calls) {
        parts.push({ functionCall: { ...(call.id ? { id: call.id } : {}), name: call.name, args: call.args ?? {} } });
      }
      if (parts.length === 0) parts.push({ text: '' });
      return {
        candidates: [{ content: { parts, role: 'model' }, finishReason: reply.finishReason ?? 'STOP', index: 0 }],
        usageMetadata: {
          promptTokenCount: usage.inputTokens,
          candidatesTokenCount: usage.outputTokens,
          totalTokenCount: usage.inputTokens + usage.outputTokens,
        },
        modelVersion: options.model,
        responseId: 'fake-response',
      };
    }
  }
}

/**
 * Gemini SSE chunks (`data: {...}\r\n\r\n`) re-framed as the JSON array `:streamGenerateContent`
 * streams without `alt=sse`: `[{...}`, then `,\r\n{...}` per element; `arrayEnd` closes it.
 */
export function asJSONArray(chunks: readonly WireChunk[]): WireChunk[] {
  return chunks.map((chunk, index) => ({
    data: `${index === 0 ? '[' : ',\r\n'}${arrayElement(chunk.data)}`,
    token: chunk.token,
  }));
}

/** One SSE-framed JSON payload as a bare array element. */
export function arrayElement(sse: string): string {
  return sse.replace(/^data: /, '').trimEnd();
}

/** The end of a streamed JSON array (`]` alone when nothing was sent). */
export function arrayEnd(sent: number): string {
  return sent === 0 ? '[]' : '\r\n]';
}
