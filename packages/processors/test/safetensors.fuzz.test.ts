// Fuzzed safetensors files against an independent oracle: a few thousand seeded mutations of valid
// files (truncation, header lengths, corrupt JSON, byte order marks, offsets that overlap, leave gaps
// or run out of range, shapes that do not match sizes, unknown and prototype-named dtypes, trailing
// bytes, ...). Every file the reader refuses is refused with a coded FormatError (E_FORMAT) and is
// invalid by the oracle; every file it accepts is valid by the oracle and reads as the oracle reads it.
// Deterministic: the seed is fixed (FUZZ_SEED overrides it), and a failure names the mutations applied.
import type { FileHandle } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { FormatError } from '../src/index.ts';
import { MAX_HEADER_SIZE, readSafetensorsHeaderFrom, type TensorInfo } from '../src/safetensors/index.ts';

const SEED = Number(process.env.FUZZ_SEED ?? 0x5afe7e45);
const MUTATIONS = 4000;

/** mulberry32: a small deterministic PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---- The oracle: the format's rules, written out plainly and independently of the reader. ----

const FORMAT_DTYPES = new Map<string, number>([
  ['BOOL', 8],
  ['U8', 8],
  ['I8', 8],
  ['F8_E5M2', 8],
  ['F8_E4M3', 8],
  ['F8_E8M0', 8],
  ['I16', 16],
  ['U16', 16],
  ['F16', 16],
  ['BF16', 16],
  ['I32', 32],
  ['U32', 32],
  ['F32', 32],
  ['C64', 64],
  ['F64', 64],
  ['I64', 64],
  ['U64', 64],
  ['F4', 4],
  ['F6_E2M3', 6],
  ['F6_E3M2', 6],
]);

type Json = null | boolean | number | string | Json[] | { pairs: [string, Json][] };

/** A strict JSON parser that keeps an object's keys in order, duplicates included. Throws on anything else. */
function parseJson(text: string): Json {
  let i = 0;
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++;
  };
  const fail = (): never => {
    throw new Error(`oracle: bad JSON at ${i}`);
  };
  const string = (): string => {
    if (text[i] !== '"') fail();
    let j = i + 1;
    for (;;) {
      if (j >= text.length) fail();
      const c = text.charCodeAt(j);
      if (c === 0x22) break;
      if (c < 0x20) fail();
      if (c === 0x5c) {
        const e = text[j + 1];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(j + 2, j + 6))) fail();
          j += 6;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) j += 2;
        else fail();
      } else j++;
    }
    const raw = text.slice(i, j + 1);
    i = j + 1;
    return JSON.parse(raw) as string;
  };
  const value = (): Json => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const pairs: [string, Json][] = [];
      ws();
      if (text[i] === '}') {
        i++;
        return { pairs };
      }
      for (;;) {
        ws();
        const key = string();
        ws();
        if (text[i++] !== ':') fail();
        pairs.push([key, value()]);
        ws();
        const d = text[i++];
        if (d === '}') return { pairs };
        if (d !== ',') fail();
      }
    }
    if (c === '[') {
      i++;
      const items: Json[] = [];
      ws();
      if (text[i] === ']') {
        i++;
        return items;
      }
      for (;;) {
        items.push(value());
        ws();
        const d = text[i++];
        if (d === ']') return items;
        if (d !== ',') fail();
      }
    }
    if (c === '"') return string();
    for (const [word, v] of [
      ['true', true],
      ['false', false],
      ['null', null],
    ] as const) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return v;
      }
    }
    const m = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(text.slice(i, i + 400));
    if (!m) fail();
    i += m![0].length;
    return Number(m![0]);
  };
  const out = value();
  ws();
  if (i !== text.length) fail();
  return out;
}

const isObject = (v: Json): v is { pairs: [string, Json][] } => typeof v === 'object' && v !== null && 'pairs' in v;
/** A nested object's field as JSON.parse reads it: the last of duplicate keys wins. */
const field = (v: { pairs: [string, Json][] }, key: string): Json | undefined =>
  v.pairs.findLast(([k]) => k === key)?.[1];
const isIndex = (v: Json | undefined): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

interface OracleTensor {
  name: string;
  dtype: string;
  shape: number[];
  dataOffsets: [number, number];
}

/** The tensors (in header order) and metadata of a valid file, or a string saying why the file is invalid. */
function oracle(bytes: Uint8Array): { tensors: OracleTensor[]; metadata: [string, string][] } | string {
  if (bytes.length < 8) return 'shorter than 8 bytes';
  const n = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (n > 100_000_000n) return 'header too large';
  if (8n + n > BigInt(bytes.length)) return 'shorter than 8 + N';
  const header = bytes.subarray(8, 8 + Number(n));
  const text = Buffer.from(header).toString('utf8');
  if (!Buffer.from(text, 'utf8').equals(Buffer.from(header))) return 'not UTF-8';
  if (header[0] !== 0x7b) return 'first byte is not {';
  let json: Json;
  try {
    json = parseJson(text);
  } catch {
    return 'not JSON';
  }
  if (!isObject(json)) return 'not an object';
  const names = json.pairs.map(([k]) => k);
  if (new Set(names).size !== names.length) return 'duplicate names';
  const tensors: OracleTensor[] = [];
  const metadata = new Map<string, string>();
  for (const [name, value] of json.pairs) {
    if (name === '__metadata__') {
      if (value === null) continue;
      if (!isObject(value)) return 'metadata not an object';
      for (const [k, v] of value.pairs) {
        if (typeof v !== 'string') return 'metadata value not a string';
        metadata.set(k, v);
      }
      continue;
    }
    if (!isObject(value)) return 'entry not an object';
    const dtype = field(value, 'dtype');
    const shape = field(value, 'shape');
    const offsets = field(value, 'data_offsets');
    if (typeof dtype !== 'string' || !FORMAT_DTYPES.has(dtype)) return 'unknown dtype';
    if (!Array.isArray(shape) || !shape.every(isIndex)) return 'bad shape';
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isIndex)) return 'bad offsets';
    const [begin, end] = offsets as [number, number];
    if (end < begin) return 'end before begin';
    const bits = BigInt(FORMAT_DTYPES.get(dtype)!) * (shape as number[]).reduce((p, d) => p * BigInt(d), 1n);
    if (bits % 8n !== 0n) return 'partial bytes';
    if (bits / 8n !== BigInt(end - begin)) return 'size mismatch';
    tensors.push({ name, dtype, shape: shape as number[], dataOffsets: [begin, end] });
  }
  const sorted = [...tensors].sort(
    (a, b) => a.dataOffsets[0] - b.dataOffsets[0] || a.dataOffsets[1] - b.dataOffsets[1],
  );
  let at = 0;
  for (const t of sorted) {
    if (t.dataOffsets[0] !== at) return 'offsets not contiguous';
    at = t.dataOffsets[1];
  }
  if (8 + Number(n) + at !== bytes.length) return 'data does not end at the end of the file';
  return { tensors, metadata: [...metadata] };
}

// ---- Seeds and mutations. ----

/** A header entry as the fuzz builds it: any JSON value, so mutations can break it. */
type Entry = [string, unknown];

interface Model {
  entries: Entry[];
  data: Uint8Array;
  padding: string;
}

function seedModels(random: () => number): Model[] {
  const bytes = (n: number) => Uint8Array.from({ length: n }, () => Math.floor(random() * 256));
  const layout = (specs: [string, string, number[]][]): { entries: Entry[]; size: number } => {
    let at = 0;
    const entries: Entry[] = specs.map(([name, dtype, shape]) => {
      const size = (FORMAT_DTYPES.get(dtype)! * shape.reduce((p, d) => p * d, 1)) / 8;
      const entry: Entry = [name, { dtype, shape, data_offsets: [at, at + size] }];
      at += size;
      return entry;
    });
    return { entries, size: at };
  };
  const a = layout([
    ['model.layers.0.weight', 'F32', [2, 3]],
    ['model.layers.0.bias', 'BF16', [3]],
    ['ids', 'I64', [2]],
  ]);
  const b = layout([
    ['mask', 'BOOL', [5]],
    ['packed', 'F4', [2, 4]],
    ['scalar', 'F16', []],
    ['empty', 'U8', [0, 7]],
    ['six', 'F6_E2M3', [4]],
  ]);
  const c = layout([['x', 'F64', [1]]]);
  // Header order differs from offset order: legal.
  const reversed = [
    ...c.entries,
    ...layout([['y', 'I8', [3]]]).entries.map(([k, v]) => {
      const e = v as { dtype: string; shape: number[] };
      return [k, { ...e, data_offsets: [8, 11] }] as Entry;
    }),
  ].reverse();
  return [
    { entries: [['__metadata__', { format: 'pt', lora_alpha: '16' }], ...a.entries], data: bytes(a.size), padding: '' },
    { entries: [...b.entries, ['__metadata__', null]], data: bytes(b.size), padding: '   ' },
    { entries: reversed, data: bytes(11), padding: ' ' },
    { entries: [], data: new Uint8Array(0), padding: '      ' },
    { entries: [['__proto__', { dtype: 'U8', shape: [4], data_offsets: [0, 4] }]], data: bytes(4), padding: '' },
  ];
}

function encode(model: Model, n?: bigint): Uint8Array {
  const json = `{${model.entries.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`;
  const header = new TextEncoder().encode(json + model.padding);
  const out = new Uint8Array(8 + header.length + model.data.length);
  new DataView(out.buffer).setBigUint64(0, n ?? BigInt(header.length), true);
  out.set(header, 8);
  out.set(model.data, 8 + header.length);
  return out;
}

const DTYPE_CHOICES: unknown[] = [
  ...FORMAT_DTYPES.keys(),
  'toString',
  'constructor',
  '__proto__',
  'valueOf',
  'hasOwnProperty',
  'F128',
  'f32',
  '',
  'F32 ',
  7,
  null,
];

type Tensor = { dtype?: unknown; shape?: unknown; data_offsets?: unknown; [k: string]: unknown };

function mutateModel(model: Model, random: () => number, applied: string[]): Model {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const int = (n: number) => Math.floor(random() * n);
  const entries: Entry[] = model.entries.map(([k, v]) => [k, structuredClone(v)]);
  let data = model.data;
  let padding = model.padding;
  const tensors = entries.filter(([k, v]) => k !== '__metadata__' && typeof v === 'object' && v !== null);
  const someTensor = (): Tensor | undefined => (tensors.length ? (pick(tensors)[1] as Tensor) : undefined);
  const kinds = [
    'dtype',
    'shape',
    'offsets',
    'overlap',
    'data-length',
    'duplicate',
    'metadata',
    'entry-kind',
    'remove',
    'extra-field',
    'padding',
  ] as const;
  const kind = pick(kinds);
  applied.push(kind);
  const t = someTensor();
  switch (kind) {
    case 'dtype':
      if (t) t.dtype = pick(DTYPE_CHOICES);
      break;
    case 'shape':
      if (t && Array.isArray(t.shape)) {
        const shape = t.shape as unknown[];
        const choice = int(7);
        if (choice === 0 && shape.length) shape[int(shape.length)] = (shape[0] as number) + pick([-1, 1, 2]);
        else if (choice === 1) shape.push(pick([0, 1, 2, 3]));
        else if (choice === 2) shape.pop();
        else if (choice === 3) shape[int(shape.length + 1)] = pick([-1, 1.5, 2 ** 53, 2 ** 32, '2', null]);
        else if (choice === 4) t.shape = pick([null, 3, '[2]', {}]);
        else if (choice === 5) shape.reverse();
        else t.shape = [2 ** 32, 2 ** 32, 8];
      }
      break;
    case 'offsets':
      if (t && Array.isArray(t.data_offsets)) {
        const o = t.data_offsets as unknown[];
        const choice = int(7);
        if (choice === 0) o[int(2)] = (o[0] as number) + pick([-4, -1, 1, 4, 1000]);
        else if (choice === 1) o.reverse();
        else if (choice === 2) o.push(o[1]);
        else if (choice === 3) o.pop();
        else if (choice === 4) o[int(2)] = pick([-1, 0.5, 2 ** 53 + 2, 1e300, '4', null]);
        else if (choice === 5) t.data_offsets = pick([null, {}, 4]);
        else o[1] = data.length + pick([1, 8, 1 << 20]);
      }
      break;
    case 'overlap':
      if (tensors.length >= 2) {
        const [x, y] = [pick(tensors)[1] as Tensor, pick(tensors)[1] as Tensor];
        if (Array.isArray(x.data_offsets) && Array.isArray(y.data_offsets)) x.data_offsets = [...y.data_offsets];
      }
      break;
    case 'data-length': {
      const choice = int(3);
      const extra = 1 + int(16);
      if (choice === 0) data = data.subarray(0, Math.max(0, data.length - extra));
      else if (choice === 1) data = Uint8Array.from([...data, ...new Uint8Array(extra)]);
      else data = Uint8Array.from([...data.subarray(0, data.length >> 1), 0, ...data.subarray(data.length >> 1)]);
      break;
    }
    case 'duplicate':
      if (entries.length) entries.splice(int(entries.length + 1), 0, structuredClone(pick(entries)));
      else entries.push(['__metadata__', {}], ['__metadata__', {}]);
      break;
    case 'metadata': {
      const at = entries.findIndex(([k]) => k === '__metadata__');
      const value = pick([
        { k: 1 },
        { k: null },
        { k: ['v'] },
        { k: { n: 'v' } },
        [],
        'x',
        3,
        null,
        {},
        { ok: 'v' },
        JSON.parse('{"__proto__":"p","k":"v"}'),
      ]);
      if (at >= 0) entries[at] = ['__metadata__', value];
      else entries.unshift(['__metadata__', value]);
      break;
    }
    case 'entry-kind':
      if (tensors.length) pick(tensors)[1] = pick([[], 'F32', 3, null, true, {}]);
      break;
    case 'remove':
      if (entries.length) entries.splice(int(entries.length), 1);
      break;
    case 'extra-field':
      if (t) t[pick(['extra', 'offset', 'dtype2'])] = pick([1, 'x', [1, 2], null]);
      break;
    case 'padding':
      padding = pick(['', ' ', '        ', '\n', '\t', '\u0000', ' x', '  }']);
      break;
  }
  return { entries, data, padding };
}

function mutateBytes(bytes: Uint8Array, random: () => number, applied: string[]): Uint8Array {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const int = (n: number) => Math.floor(random() * n);
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  const kinds = [
    'truncate',
    'trailing',
    'header-length',
    'flip-header',
    'flip-any',
    'bom',
    'leading-space',
    'cut-json',
    'insert-json',
    'delete-json',
  ] as const;
  const kind = pick(kinds);
  applied.push(kind);
  const withHeader = (header: Uint8Array) => {
    const out = new Uint8Array(8 + header.length + bytes.length - 8 - n);
    new DataView(out.buffer).setBigUint64(0, BigInt(header.length), true);
    out.set(header, 8);
    out.set(bytes.subarray(8 + n), 8 + header.length);
    return out;
  };
  const header = bytes.subarray(8, 8 + n);
  switch (kind) {
    case 'truncate':
      return bytes.slice(0, int(bytes.length));
    case 'trailing':
      return Uint8Array.from([...bytes, ...Array.from({ length: 1 + int(16) }, () => int(256))]);
    case 'header-length': {
      const out = bytes.slice();
      const value = pick([
        0n,
        BigInt(n - 1),
        BigInt(n + 1),
        BigInt(n + 8),
        BigInt(bytes.length),
        BigInt(MAX_HEADER_SIZE),
        BigInt(MAX_HEADER_SIZE + 1),
        2n ** 53n,
        2n ** 63n,
        2n ** 64n - 1n,
        BigInt(int(1 << 30)),
      ]);
      new DataView(out.buffer).setBigUint64(0, value < 0n ? 0n : value, true);
      return out;
    }
    case 'flip-header': {
      const out = bytes.slice();
      if (n > 0) out[8 + int(n)] = pick([int(256), 0xff, 0x80, 0x00, 0x22, 0x5c, 0x7b, 0x7d]);
      return out;
    }
    case 'flip-any': {
      const out = bytes.slice();
      if (out.length) out[int(out.length)] ^= 1 << int(8);
      return out;
    }
    case 'bom':
      return withHeader(Uint8Array.from([0xef, 0xbb, 0xbf, ...header]));
    case 'leading-space':
      return withHeader(Uint8Array.from([pick([0x20, 0x0a, 0x09]), ...header]));
    case 'cut-json':
      return withHeader(header.slice(0, int(n + 1)));
    case 'insert-json': {
      const at = int(n + 1);
      const c = pick('{}[],:"\\0-e. x'.split('')).charCodeAt(0);
      return withHeader(Uint8Array.from([...header.subarray(0, at), c, ...header.subarray(at)]));
    }
    case 'delete-json': {
      const at = int(n);
      return withHeader(Uint8Array.from([...header.subarray(0, at), ...header.subarray(at + 1)]));
    }
  }
}

/** A FileHandle over bytes in memory: `read` as Node's, short reads included, so `readFully` loops too. */
function memoryHandle(bytes: Uint8Array, random: () => number): FileHandle {
  return {
    async read(buffer: Uint8Array, offset: number, length: number, position: number) {
      const available = Math.max(0, Math.min(length, bytes.length - position));
      const count = available > 1 && random() < 0.3 ? 1 + Math.floor(random() * (available - 1)) : available;
      buffer.set(bytes.subarray(position, position + count), offset);
      return { bytesRead: count, buffer };
    },
  } as unknown as FileHandle;
}

const plain = (t: TensorInfo) => ({
  name: t.name,
  dtype: t.dtype,
  shape: [...t.shape],
  dataOffsets: [...t.dataOffsets],
});

describe('safetensors fuzz', () => {
  it(`${MUTATIONS} mutated files: every refusal is a coded FormatError, nothing invalid is accepted`, async () => {
    const random = prng(SEED);
    const seeds = seedModels(random);
    for (const seed of seeds) expect(oracle(encode(seed)), 'a seed file is valid').not.toBeTypeOf('string');
    const tally = { accepted: 0, refused: 0 };
    const kinds = new Map<string, number>();
    for (let i = 0; i < MUTATIONS; i++) {
      const applied: string[] = [];
      let model = seeds[Math.floor(random() * seeds.length)]!;
      const rounds = 1 + Math.floor(random() * 2);
      for (let r = 0; r < rounds; r++) model = mutateModel(model, random, applied);
      let bytes = encode(model);
      if (random() < 0.45) bytes = mutateBytes(bytes, random, applied);
      for (const k of applied) kinds.set(k, (kinds.get(k) ?? 0) + 1);
      const where = `mutation ${i} (seed ${SEED}): ${applied.join(' + ')}`;
      const expected = oracle(bytes);
      let header: Awaited<ReturnType<typeof readSafetensorsHeaderFrom>> | undefined;
      let error: unknown;
      try {
        header = await readSafetensorsHeaderFrom(memoryHandle(bytes, random), bytes.length, 'fuzz.safetensors');
      } catch (e) {
        error = e;
      }
      if (header) {
        tally.accepted++;
        expect(expected, `${where}: accepted a file the format refuses`).not.toBeTypeOf('string');
        const valid = expected as Exclude<typeof expected, string>;
        expect(header.tensors.map(plain), where).toEqual(valid.tensors);
        expect(Object.entries(header.metadata), where).toEqual(valid.metadata);
        expect(header.dataStart + header.dataSize, where).toBe(bytes.length);
      } else {
        tally.refused++;
        expect(error, `${where}: refused without a FormatError: ${String(error)}`).toBeInstanceOf(FormatError);
        expect((error as FormatError).code, where).toBe('E_FORMAT');
        expect((error as FormatError).reason, where).toMatch(/^[a-z0-9-]+$/);
        expect((error as FormatError).message, where).toMatch(/^fuzz\.safetensors: ./);
        expect(expected, `${where}: refused a valid file: ${(error as Error).message}`).toBeTypeOf('string');
      }
    }
    // The run exercised both verdicts and every kind of mutation.
    expect(tally.accepted).toBeGreaterThan(MUTATIONS * 0.03);
    expect(tally.refused).toBeGreaterThan(MUTATIONS * 0.5);
    expect(kinds.size).toBe(21);
  });
});
