import { type Part, part, toJSON } from '@sluice/core';
import { describe, expect, it } from 'vitest';
import { keysOf } from '../src/redis/keys.ts';
import { type BlobWire, type Command, encodePart, INLINE_BYTES, isBlob, partFromWire } from '../src/redis/wire.ts';

const keys = keysOf('sluice');

/** Encodes `p` as a worker or caller does, through JSON, and rebuilds it as the other side does. */
function roundTrip(p: Part): { back: Part; json: string; before: Command[] } {
  const before: Command[] = [];
  const json = JSON.stringify(encodePart(p, keys, before));
  return { back: partFromWire(JSON.parse(json)), json, before };
}

describe('the wire form of a part', () => {
  it('leaves out the fields at their defaults: a plain text part is its text', () => {
    const { back, json } = roundTrip(part('hello'));
    expect(json).toBe('{"text":"hello"}');
    expect(toJSON(back)).toEqual(toJSON(part('hello')));
    const markdown = roundTrip(part('# hi', { mimetype: 'text/markdown' }));
    expect(JSON.parse(markdown.json)).toEqual({ mimetype: 'text/markdown', text: '# hi' });
    expect(markdown.back.mimetype).toBe('text/markdown');
  });

  it('keeps role, substream, metadata, bytes, tool calls and tool results', () => {
    const parts = [
      part('hi', { role: 'model', substream: 'notes', metadata: { n: 1, nested: { a: [1, 2] } } }),
      part(new Uint8Array([0, 1, 255]), { mimetype: 'application/octet-stream', metadata: { k: 'v' } }),
      part('', { mimetype: 'application/json', toolCall: { id: 'c1', name: 'add', args: { a: 1 } } }),
      part('', {
        mimetype: 'application/json',
        toolResult: { id: 'c1', name: 'add', result: 2, isError: false },
        role: 'tool',
      }),
    ];
    for (const p of parts) {
      const { back, before } = roundTrip(p);
      expect(before).toEqual([]);
      expect(toJSON(back)).toEqual(toJSON(p));
    }
  });

  it('moves bytes above the inline limit into a payload key with a TTL', () => {
    const big = part(new Uint8Array(INLINE_BYTES + 1), { mimetype: 'application/octet-stream' });
    const before: Command[] = [];
    const encoded = encodePart(big, keys, before);
    expect(isBlob(encoded)).toBe(true);
    const wire = encoded as BlobWire;
    expect(wire.b).toMatch(/^sluice:/);
    expect(before).toHaveLength(1);
    expect(before[0]![0]).toBe('SET');
    expect(before[0]![1]).toBe(wire.b);
    expect(before[0]).toContain('PX');
    expect(wire.j.data).toBeUndefined();
    expect(wire.j.mimetype).toBe('application/octet-stream');
  });
});
