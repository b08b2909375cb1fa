// Every provider's wire format, decoded with the stream split at every byte
// offset (so inside multi-byte UTF-8 characters, inside CRLF pairs, inside
// JSON and inside `data:` prefixes): the events must not depend on where the
// network cut the bytes.

import { describe, expect, it } from 'vitest';
import { encodeReply, type FakeProvider, type FakeReply } from '../src/testing/wire.ts';
import { decodeWire, joined, splitAt } from './model-helpers.ts';

const reply: FakeReply = {
  reasoning: 'Thinking… about ünïcode 🤔',
  text: ['Héllo', ' wörld', ' 世界', ' 🎉🎉', ' done.'],
  toolCalls: [{ id: 'call_a', name: 'lookup', args: { city: 'Zürich', tags: ['ä', '🚀'] } }],
  usage: { inputTokens: 11, outputTokens: 7 },
};

const providers: FakeProvider[] = ['openai', 'anthropic', 'ollama', 'gemini'];

describe.each(providers)('%s wire format', (provider) => {
  const bytes = Buffer.from(
    encodeReply(provider, reply, { model: 'm' })
      .map((chunk) => chunk.data)
      .join(''),
    'utf8',
  );

  it('decodes text, reasoning, tool calls, usage and finish reason in one chunk', async () => {
    const events = await decodeWire(provider, [bytes]);
    expect(joined(events, 'text')).toBe('Héllo wörld 世界 🎉🎉 done.');
    expect(joined(events, 'reasoning')).toBe('Thinking… about ünïcode 🤔');
    const calls = events.filter((event) => event.type === 'toolCall');
    expect(calls).toEqual([
      {
        type: 'toolCall',
        id: 'call_a',
        name: 'lookup',
        args: { city: 'Zürich', tags: ['ä', '🚀'] },
      },
    ]);
    const finish = events.at(-1);
    expect(finish).toMatchObject({
      type: 'finish',
      finishReason: 'tool_calls',
      usage: { inputTokens: 11, outputTokens: 7 },
    });
    // Each token is its own event: no merging, no splitting.
    expect(events.filter((event) => event.type === 'text').map((event) => (event as { text: string }).text)).toEqual(
      reply.text,
    );
  });

  it('gives the same events wherever the bytes are split in two', async () => {
    const expected = await decodeWire(provider, [bytes]);
    for (let offset = 1; offset < bytes.length; offset++) {
      const events = await decodeWire(provider, splitAt(bytes, [offset]));
      if (JSON.stringify(events) !== JSON.stringify(expected)) {
        expect(events, `split at byte ${offset}`).toEqual(expected);
      }
    }
  });

  it('gives the same events when every byte arrives alone', async () => {
    const expected = await decodeWire(provider, [bytes]);
    const offsets = Array.from({ length: bytes.length - 1 }, (_, i) => i + 1);
    expect(await decodeWire(provider, splitAt(bytes, offsets))).toEqual(expected);
  });
});
