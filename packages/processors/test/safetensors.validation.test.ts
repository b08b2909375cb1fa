// The safetensors reader refuses every malformed file the safetensors format refuses (see the processors README, "Weights"), with code E_FORMAT and a reason,
// before trusting any declared size; the writer's files round-trip, padded so the data is 8-byte aligned.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FormatError } from '../src/index.ts';
import {
  encodeSafetensorsHeader,
  MAX_HEADER_SIZE,
  openSafetensors,
  parseSafetensorsHeader,
  readSafetensorsHeader,
  writeSafetensors,
} from '../src/safetensors/index.ts';
import { readValues, tempFolder, tensor } from './fixtures-weights/models.ts';

let dir: string;
let remove: () => Promise<void>;
beforeEach(async () => {
  ({ dir, remove } = await tempFolder());
});
afterEach(() => remove());

/** A file made of `u64 N | header text | data`, with N as given (defaults to the header's length). */
function rawFile(headerText: string, data = new Uint8Array(0), n?: bigint): Uint8Array {
  const header = new TextEncoder().encode(headerText);
  const out = new Uint8Array(8 + header.length + data.length);
  new DataView(out.buffer).setBigUint64(0, n ?? BigInt(header.length), true);
  out.set(header, 8);
  out.set(data, 8 + header.length);
  return out;
}

async function expectFormat(bytes: Uint8Array, reason: string, message?: RegExp) {
  const path = join(dir, 'bad.safetensors');
  await writeFile(path, bytes);
  const error = await readSafetensorsHeader(path).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(FormatError);
  expect((error as FormatError).code).toBe('E_FORMAT');
  expect((error as FormatError).reason).toBe(reason);
  if (message) expect((error as FormatError).message).toMatch(message);
}

const f32x2 = '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}';

describe('safetensors reader validation', () => {
  it('accepts a well-formed file', async () => {
    const path = join(dir, 'ok.safetensors');
    await writeFile(path, rawFile(f32x2, new Uint8Array(new Float32Array([1.5, -2]).buffer)));
    expect(await readValues(path, 'a')).toEqual([1.5, -2]);
  });

  it('refuses a file shorter than 8 bytes', () => expectFormat(new Uint8Array(5), 'too-short'));

  it('refuses a header length over 100,000,000 without allocating it', () =>
    expectFormat(rawFile('{}', new Uint8Array(0), BigInt(MAX_HEADER_SIZE + 1)), 'header-too-large'));

  it('refuses a u64 header length beyond 2^53', () =>
    expectFormat(rawFile('{}', new Uint8Array(0), 2n ** 63n), 'header-too-large'));

  it('refuses a file shorter than 8 + N', () => expectFormat(rawFile('{}', new Uint8Array(0), 1000n), 'too-short'));

  it('refuses invalid UTF-8', async () => {
    const bytes = rawFile('{"a":1}');
    bytes[10] = 0xff;
    await expectFormat(bytes, 'invalid-utf8');
  });

  it('refuses invalid JSON and a header not starting with {', async () => {
    await expectFormat(rawFile('{"a":'), 'invalid-json');
    await expectFormat(rawFile(' {}'), 'invalid-header-start');
    await expectFormat(rawFile('[]'), 'invalid-header-start');
  });

  it('refuses a header that starts with a UTF-8 byte order mark (the format has none)', async () => {
    const bom = '\ufeff';
    await expectFormat(rawFile(`${bom}${f32x2}`, new Uint8Array(8)), 'invalid-header-start', /byte order mark/);
    const header = new TextEncoder().encode(`${bom}${f32x2}`);
    expect(() => parseSafetensorsHeader(header, 8 + header.length + 8)).toThrow(/byte order mark/);
    // A BOM-like character inside the JSON (here in a metadata value) is plain text, accepted as such.
    const inside = new TextEncoder().encode(`{"__metadata__":{"k":"${bom}v"}}`);
    expect(parseSafetensorsHeader(inside, 8 + inside.length).metadata).toEqual({ k: `${bom}v` });
  });

  it('keeps a metadata key named __proto__ as a key', () => {
    const header = new TextEncoder().encode('{"__metadata__":{"__proto__":"p","k":"v"}}');
    const { metadata } = parseSafetensorsHeader(header, 8 + header.length);
    expect(Object.entries(metadata)).toEqual([
      ['__proto__', 'p'],
      ['k', 'v'],
    ]);
  });

  it('refuses a non-string metadata value', () =>
    expectFormat(rawFile('{"__metadata__":{"lora_alpha":2}}'), 'invalid-metadata', /lora_alpha/));

  it('refuses duplicate names (which JSON.parse would silently merge)', () =>
    expectFormat(
      rawFile(
        '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}',
        new Uint8Array(8),
      ),
      'duplicate-name',
    ));

  it('refuses offsets with a gap, an overlap, or not starting at 0', async () => {
    const two = (a: string, b: string) =>
      `{"a":{"dtype":"F32","shape":[1],"data_offsets":${a}},"b":{"dtype":"F32","shape":[1],"data_offsets":${b}}}`;
    await expectFormat(rawFile(two('[0,4]', '[8,12]'), new Uint8Array(12)), 'invalid-offsets', /gap/);
    await expectFormat(rawFile(two('[0,4]', '[2,6]'), new Uint8Array(6)), 'invalid-offsets', /overlap/);
    await expectFormat(rawFile(two('[4,8]', '[8,12]'), new Uint8Array(12)), 'invalid-offsets');
  });

  it('refuses a tensor whose byte length is not shape x dtype size', () =>
    expectFormat(
      rawFile('{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}', new Uint8Array(8)),
      'size-mismatch',
    ));

  it('checks the size arithmetic without overflowing', () =>
    expectFormat(
      rawFile('{"a":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,8]}}', new Uint8Array(8)),
      'size-overflow',
    ));

  it('refuses data that stops before the end the header declares (a truncated download)', async () => {
    const full = rawFile(f32x2, new Uint8Array(8));
    await expectFormat(full.subarray(0, full.length - 3), 'data-length', /truncated/);
  });

  it('refuses bytes after the last tensor', () => expectFormat(rawFile(f32x2, new Uint8Array(9)), 'data-length'));

  it('refuses unknown dtypes and malformed entries', async () => {
    await expectFormat(
      rawFile('{"a":{"dtype":"F128","shape":[1],"data_offsets":[0,16]}}', new Uint8Array(16)),
      'unknown-dtype',
    );
    await expectFormat(
      rawFile('{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}', new Uint8Array(4)),
      'invalid-entry',
    );
    await expectFormat(
      rawFile('{"a":{"dtype":"F32","shape":[1],"data_offsets":[4]}}', new Uint8Array(4)),
      'invalid-entry',
    );
    await expectFormat(rawFile('{"a":[]}'), 'invalid-entry');
  });

  it('accepts right-padding with spaces and a header that is not 8-byte aligned', () => {
    const header = new TextEncoder().encode(`${f32x2}   `);
    expect(parseSafetensorsHeader(header, 8 + header.length + 8).tensors.map((t) => t.name)).toEqual(['a']);
  });
});

describe('safetensors writer', () => {
  it('pads the header to a multiple of 8 and keeps header order, metadata and non-float dtypes', async () => {
    const path = join(dir, 'out.safetensors');
    await writeSafetensors(
      path,
      [
        tensor('z', [1, 2, 3]),
        { name: 'ids', dtype: 'I64', shape: [2], data: new BigInt64Array([7n, -1n]) },
        tensor('a', [[0.5, -0.25]], 'BF16'),
        tensor('h', [65504, 1e-7], 'F16'),
      ],
      { format: 'pt', lora_alpha: '16' },
    );
    const header = await readSafetensorsHeader(path);
    expect(header.headerSize % 8).toBe(0);
    expect(header.tensors.map((t) => t.name)).toEqual(['z', 'ids', 'a', 'h']);
    expect(header.metadata).toEqual({ format: 'pt', lora_alpha: '16' });
    expect(await readValues(path, 'a')).toEqual([0.5, -0.25]);
    expect(await readValues(path, 'h')).toEqual([65504, 1.1920928955078125e-7]);
    const file = await openSafetensors(path);
    expect(Array.from(new BigInt64Array((await file.read('ids')).slice().buffer))).toEqual([7n, -1n]);
    expect(Array.from(await file.read('z', 4, 4))).toEqual(Array.from(new Uint8Array(new Float32Array([2]).buffer)));
    await file.close();
  });

  it('encodes __metadata__ where the base had it', () => {
    const bytes = encodeSafetensorsHeader(
      [{ name: 'a', dtype: 'F32', shape: [1], dataOffsets: [0, 4] }],
      { k: 'v' },
      { metadataIndex: 1 },
    );
    const text = new TextDecoder().decode(bytes.subarray(8)).trimEnd();
    expect(text).toBe('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"__metadata__":{"k":"v"}}');
  });
});
