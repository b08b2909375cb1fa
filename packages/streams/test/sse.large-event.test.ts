// A streamed base64 image is one `data:` line of several megabytes arriving in many small
// chunks. The parser must deliver it whole and exact, whatever the cut (its speed, linear in the
// size, is measured in bench/sse-large-event.ts).
import { describe, expect, it } from 'vitest';
import { decodeSSE, SSEParser } from '../src/index.ts';

function base64Like(bytes: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  let out = '';
  for (let i = 0; out.length < bytes; i++) out += alphabet[(i * 7919) % 64];
  return out;
}

async function* chunksOf(bytes: Uint8Array, size: (i: number) => number): AsyncGenerator<Uint8Array> {
  for (let i = 0, n = 0; i < bytes.length; n++) {
    const step = size(n);
    yield bytes.subarray(i, i + step);
    i += step;
  }
}

describe('decodeSSE with a 4 MB event', () => {
  const image = base64Like(4 * 1024 * 1024);
  const wire = [
    'event: image_generation.partial_image\ndata: {"partial_image_index":0}\n\n',
    `event: image_generation.completed\ndata: {"b64_json":"${image}"}\n\n`,
    ': keep-alive\n\n',
    'data: [DONE]\n\n',
  ].join('');
  const bytes = new TextEncoder().encode(wire);

  for (const [label, size] of [
    ['1 KiB chunks', () => 1024],
    ['uneven chunks of 1 B to 3 KiB', (n: number) => 1 + ((n * 2654435761) % 3072)],
    ['64 KiB chunks', () => 65536],
  ] as const) {
    it(`delivers it whole and exact in ${label}`, async () => {
      const events = [];
      for await (const event of decodeSSE(chunksOf(bytes, size))) events.push(event);
      expect(events.map((e) => e.event)).toEqual([
        'image_generation.partial_image',
        'image_generation.completed',
        undefined,
      ]);
      expect(events[1]!.data.length).toBe(image.length + '{"b64_json":""}'.length);
      expect(JSON.parse(events[1]!.data).b64_json === image).toBe(true);
      expect(events[2]!.data).toBe('[DONE]');
    });
  }

  it('keeps CRLF line ends split across chunks inside a long line', () => {
    const parser = new SSEParser();
    const got: string[] = [];
    const long = 'x'.repeat(100_000);
    for (const piece of ['data: ', long.slice(0, 50_000), long.slice(50_000), '\r', '\n\r', '\ndata: b\r\n\r\n']) {
      parser.feed(piece, (e) => got.push(e.data));
    }
    expect(got).toEqual([long, 'b']);
  });
});
