import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  asText,
  dataPart,
  debugPart,
  fromJSON,
  isText,
  jsonPart,
  PartError,
  part,
  readJSON,
  statusPart,
  textPart,
  toJSON,
} from '../src/index.ts';

describe('parts', () => {
  it('strings become text/plain parts and bytes application/octet-stream, with defaults', () => {
    const t = part('hi');
    expect(t).toMatchObject({ mimetype: 'text/plain', text: 'hi', role: '', substream: '', metadata: {} });
    expect(t.data).toBeUndefined();
    const b = part(Uint8Array.of(1, 2));
    expect(b.mimetype).toBe('application/octet-stream');
    expect(b.data).toEqual(Uint8Array.of(1, 2));
    expect(b.text).toBeUndefined();
  });

  it('parts are frozen and part(p, init) returns a new part with init replacing fields (metadata included)', () => {
    const p = textPart('a', { role: 'user', metadata: { x: 1 } });
    expect(Object.isFrozen(p)).toBe(true);
    expect(() => {
      (p as { text: string }).text = 'b';
    }).toThrow(TypeError);
    const q = part(p, { metadata: { y: 2 }, role: 'model' });
    expect(q).not.toBe(p);
    expect(q).toMatchObject({ text: 'a', role: 'model', metadata: { y: 2 } });
    expect(p.metadata).toEqual({ x: 1 });
  });

  it('isText covers text/*, application/json and *+json; textual data parts decode to .text', () => {
    expect(isText('text/markdown')).toBe(true);
    expect(isText('application/json; type=AlignmentChunk')).toBe(true);
    expect(isText('application/ld+json')).toBe(true);
    expect(isText('image/png')).toBe(false);
    expect(dataPart(new TextEncoder().encode('héllo'), 'text/plain').text).toBe('héllo');
    expect(isText(jsonPart({ a: 1 }))).toBe(true);
  });

  it('jsonPart carries the JSON as text and the type in the mimetype', () => {
    const p = jsonPart({ layerIndex: 0 }, { type: 'AlignmentChunk' });
    expect(p.mimetype).toBe('application/json; type=AlignmentChunk');
    expect(p.text).toBe('{"layerIndex":0}');
    expect(jsonPart([1]).mimetype).toBe('application/json');
  });

  it('readJSON validates with zod and throws PartError naming the mimetype and failing paths', () => {
    const schema = z.object({ name: z.string(), size: z.number() });
    expect(readJSON(jsonPart({ name: 'a', size: 1 }), schema)).toEqual({ name: 'a', size: 1 });
    const error = (() => {
      try {
        readJSON(jsonPart({ name: 3 }, { type: 'Thing' }), schema);
      } catch (e) {
        return e as PartError;
      }
    })();
    expect(error).toBeInstanceOf(PartError);
    expect(error!.issues.length).toBe(2);
    expect(error!.message).toContain('application/json; type=Thing');
    expect(error!.message).toContain('name');
    expect(error!.message).toContain('size');
    expect(() => readJSON(textPart('{oops'), schema)).toThrow(PartError);
  });

  it('status and debug parts sit on their substreams; asText reads one substream', () => {
    const parts = [
      textPart('a'),
      statusPart('working'),
      textPart('b'),
      debugPart('d'),
      textPart('r', { substream: 'reasoning' }),
    ];
    expect(statusPart('x').substream).toBe('status');
    expect(asText(parts)).toBe('ab');
    expect(asText(parts, { substream: 'reasoning' })).toBe('r');
  });

  it('toJSON/fromJSON round-trip every field, data as base64', () => {
    const bytes = Uint8Array.from({ length: 300 }, (_, i) => (i * 7) % 256);
    for (const p of [
      dataPart(bytes, 'image/png', { role: 'user', metadata: { w: 1 } }),
      textPart('hé', { substream: 'reasoning' }),
      part('', { mimetype: 'application/x-tool-call', toolCall: { id: '1', name: 'f', args: { a: 1 } } }),
    ]) {
      const wire = JSON.parse(JSON.stringify(toJSON(p)));
      const back = fromJSON(wire);
      expect(back).toEqual(p);
    }
    expect(toJSON(dataPart(Uint8Array.of(255, 0, 1), 'image/png')).data).toBe('/wAB');
    expect(() => fromJSON({ text: 'no mimetype' })).toThrow(PartError);
  });
});
