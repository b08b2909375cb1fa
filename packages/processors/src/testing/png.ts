// A small in-process PNG encoder (8-bit RGB, no interlace, filter 0, zlib from node:zlib) and the
// deterministic pictures the fake image models draw: the same prompt always gives the same image,
// and a partial image is a blockier version of the final one.

import { deflateSync } from 'node:zlib';

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** The CRC-32 (ISO 3309, as PNG uses it) of `bytes`. Pure. */
export function crc32(bytes: Uint8Array, start = 0xffffffff): number {
  let c = start;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  out.set(data, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** The PNG signature: every PNG file starts with these 8 bytes. */
export const PNG_SIGNATURE = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Encodes `rgb` (width * height * 3 bytes, rows top to bottom) as a PNG file. Pure. */
export function encodePNG(width: number, height: number, rgb: Uint8Array): Uint8Array {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`encodePNG: width and height must be positive integers, found ${width}x${height}`);
  }
  if (rgb.length !== width * height * 3) {
    throw new RangeError(
      `encodePNG: expected ${width * height * 3} RGB bytes for ${width}x${height}, found ${rgb.length}`,
    );
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 2; // colour type: truecolour
  const stride = width * 3;
  const raw = Buffer.alloc((stride + 1) * height);
  for (let y = 0; y < height; y++) raw.set(rgb.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  return Buffer.concat([
    PNG_SIGNATURE,
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', new Uint8Array()),
  ]);
}

/** Options of `drawPicture`. */
export interface PictureOptions {
  width?: number;
  height?: number;
  /** Pixel blocks of this size (a partial image is drawn with larger ones); default 1. */
  block?: number;
  /** Seeded noise over the picture, so that it does not compress (for benchmarks of big images). */
  noise?: boolean;
}

function hash(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}

/**
 * A deterministic PNG picture of `prompt`: two colours from the prompt's hash in a diagonal
 * gradient with stripes; default 64x64. Pure: the same prompt and options give the same bytes.
 */
export function drawPicture(prompt: string, options: PictureOptions = {}): Uint8Array {
  const width = options.width ?? 64;
  const height = options.height ?? 64;
  const block = Math.max(1, options.block ?? 1);
  const seed = hash(prompt);
  const a = [seed & 255, (seed >>> 8) & 255, (seed >>> 16) & 255];
  const b = [255 - a[0]!, (a[1]! + 128) & 255, (seed >>> 24) & 255];
  const stripes = 2 + (seed % 7);
  const rgb = new Uint8Array(width * height * 3);
  let noise = seed || 1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const bx = x - (x % block);
      const by = y - (y % block);
      const t = (bx + by) / (width + height);
      const stripe = Math.floor(((bx / width) * stripes) % 2);
      const i = (y * width + x) * 3;
      for (let c = 0; c < 3; c++) {
        let value = a[c]! * (1 - t) + b[c]! * t + (stripe ? 24 : -24);
        if (options.noise) {
          noise ^= noise << 13;
          noise ^= noise >>> 17;
          noise ^= noise << 5;
          value += (noise & 63) - 32;
        }
        rgb[i + c] = Math.max(0, Math.min(255, Math.round(value)));
      }
    }
  }
  return encodePNG(width, height, rgb);
}
