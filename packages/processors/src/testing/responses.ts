// The fake server's OpenAI Responses API (`POST /v1/responses`): a scripted
// reply as the named SSE events the service streams (response.created, output
// items with their deltas, response.completed with usage), as one whole
// `response` object for `stream: false`, and the `error` event of a stream
// that fails midway.

import { splitIntoPieces, splitIntoTokens } from '../models/tokens.ts';
import type { EncodeOptions, FakeReply, FakeStreamError, WireChunk } from './wire.ts';

function tokens(value: string | readonly string[] | undefined): string[] {
  if (value === undefined) return [];
  return typeof value === 'string' ? splitIntoTokens(value) : [...value];
}

/** Finish reasons that end a response as `incomplete` (with that `incomplete_details.reason`). */
const INCOMPLETE = new Set(['max_output_tokens', 'content_filter']);

interface Outline {
  reasoning: string[];
  text: string[];
  items: Record<string, unknown>[];
  response: (status: 'in_progress' | 'completed' | 'incomplete', output: unknown[]) => Record<string, unknown>;
}

function outline(reply: FakeReply, options: EncodeOptions & { id?: string }): Outline {
  const reasoning = tokens(reply.reasoning);
  const text = tokens(reply.text);
  const calls = reply.toolCalls ?? [];
  const id = options.id ?? 'resp_fake';
  const usage = reply.usage ?? { inputTokens: 0, outputTokens: reasoning.length + text.length };
  const items: Record<string, unknown>[] = [];
  if (reasoning.length > 0) {
    items.push({ id: 'rs_fake_0', type: 'reasoning', summary: [{ type: 'summary_text', text: reasoning.join('') }] });
  }
  if (text.length > 0) {
    items.push({
      id: 'msg_fake_0',
      type: 'message',
      status: 'completed',
      role: 'assistant',
      content: [{ type: 'output_text', text: text.join(''), annotations: [], logprobs: [] }],
    });
  }
  calls.forEach((call, n) => {
    items.push({
      id: `fc_fake_${n}`,
      type: 'function_call',
      status: 'completed',
      call_id: call.id ?? `call_${n}`,
      name: call.name,
      arguments: JSON.stringify(call.args ?? {}),
    });
  });
  const reason = reply.finishReason;
  const response = (status: 'in_progress' | 'completed' | 'incomplete', output: unknown[]) => ({
    id,
    object: 'response',
    created_at: 1_700_000_000,
    status,
    error: null,
    incomplete_details: status === 'incomplete' ? { reason } : null,
    instructions: null,
    model: options.model,
    output,
    output_text: text.join(''),
    parallel_tool_calls: true,
    temperature: 1,
    tool_choice: 'auto',
    tools: [],
    top_p: 1,
    usage:
      status === 'in_progress'
        ? null
        : {
            input_tokens: usage.inputTokens,
            input_tokens_details: { cached_tokens: 0 },
            output_tokens: usage.outputTokens,
            output_tokens_details: { reasoning_tokens: reasoning.length },
            total_tokens: usage.inputTokens + usage.outputTokens,
          },
  });
  return { reasoning, text, items, response };
}

function endStatus(reply: FakeReply): 'completed' | 'incomplete' {
  return reply.finishReason !== undefined && INCOMPLETE.has(reply.finishReason) ? 'incomplete' : 'completed';
}

/** The whole `response` object the service answers to `stream: false`. Pure. */
export function responsesObject(reply: FakeReply, options: EncodeOptions & { id?: string }): Record<string, unknown> {
  const { items, response } = outline(reply, options);
  return response(endStatus(reply), items);
}

/**
 * The SSE events of `reply` on the Responses API, in the service's order, each with its `event:`
 * name and `sequence_number`; `token` marks text and reasoning deltas. Pure.
 */
export function encodeResponses(reply: FakeReply, options: EncodeOptions & { id?: string }): WireChunk[] {
  const { reasoning, text, items, response } = outline(reply, options);
  const out: WireChunk[] = [];
  let sequence = 0;
  const emit = (type: string, fields: Record<string, unknown>, token = false) => {
    const payload = { type, sequence_number: sequence++, ...fields };
    out.push({ data: `event: ${type}\ndata: ${JSON.stringify(payload)}\n\n`, token });
  };
  emit('response.created', { response: response('in_progress', []) });
  emit('response.in_progress', { response: response('in_progress', []) });
  items.forEach((item, output_index) => {
    const item_id = item.id;
    if (item.type === 'reasoning') {
      emit('response.output_item.added', { output_index, item: { ...item, summary: [] } });
      const part = { type: 'summary_text', text: '' };
      emit('response.reasoning_summary_part.added', { item_id, output_index, summary_index: 0, part });
      for (const delta of reasoning) {
        emit('response.reasoning_summary_text.delta', { item_id, output_index, summary_index: 0, delta }, true);
      }
      const full = reasoning.join('');
      emit('response.reasoning_summary_text.done', { item_id, output_index, summary_index: 0, text: full });
      emit('response.reasoning_summary_part.done', {
        item_id,
        output_index,
        summary_index: 0,
        part: { type: 'summary_text', text: full },
      });
    } else if (item.type === 'message') {
      emit('response.output_item.added', { output_index, item: { ...item, status: 'in_progress', content: [] } });
      const part = { type: 'output_text', text: '', annotations: [], logprobs: [] };
      emit('response.content_part.added', { item_id, output_index, content_index: 0, part });
      for (const delta of text) {
        emit('response.output_text.delta', { item_id, output_index, content_index: 0, delta, logprobs: [] }, true);
      }
      const full = text.join('');
      emit('response.output_text.done', { item_id, output_index, content_index: 0, text: full, logprobs: [] });
      emit('response.content_part.done', { item_id, output_index, content_index: 0, part: { ...part, text: full } });
    } else {
      emit('response.output_item.added', { output_index, item: { ...item, status: 'in_progress', arguments: '' } });
      const args = String(item.arguments);
      for (const delta of splitIntoPieces(args, 7)) {
        emit('response.function_call_arguments.delta', { item_id, output_index, delta });
      }
      emit('response.function_call_arguments.done', { item_id, output_index, name: item.name, arguments: args });
    }
    emit('response.output_item.done', { output_index, item });
  });
  const status = endStatus(reply);
  emit(`response.${status}`, { response: response(status, items) });
  return out;
}

/** The `error` event the Responses API streams when a response fails midway. */
export function encodeResponsesStreamError(error: FakeStreamError): string {
  const payload = {
    type: 'error',
    code: error.type ?? 'server_error',
    message: error.message ?? 'The server had an error while processing your request.',
    param: null,
    sequence_number: 0,
  };
  return `event: error\ndata: ${JSON.stringify(payload)}\n\n`;
}
