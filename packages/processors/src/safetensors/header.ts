// The safetensors header: `u64 LE N | N bytes of UTF-8 JSON | data`. Every size a file declares
// is checked before anything is allocated from it.

import { dtypeBits, tensorByteLength } from './dtypes.ts';
import { FormatError } from './errors.ts';

/** Largest header a reader accepts, as in the reference implementation. */
export const MAX_HEADER_SIZE = 100_000_000;

/** One tensor of a header: offsets are relative to the data buffer, `end` exclusive. */
export interface TensorInfo {
  readonly name: string;
  readonly dtype: string;
  readonly shape: readonly number[];
  readonly dataOffsets: readonly [number, number];
}

/** A validated header. `tensors` is in header order; `metadataIndex` is where `__metadata__` stood (-1: absent). */
export interface SafetensorsHeader {
  readonly metadata: Readonly<Record<string, string>>;
  readonly tensors: readonly TensorInfo[];
  readonly metadataIndex: number;
  /** N, the header length in bytes (padding included). */
  readonly headerSize: number;
  /** 8 + N: where the data buffer starts in the file. */
  readonly dataStart: number;
  /** Length of the data buffer in bytes. */
  readonly dataSize: number;
}

/**
 * Reads the 8-byte length prefix and checks it against the file size.
 * Throws FormatError ('too-short', 'header-too-large') before anything is allocated from N.
 */
export function readHeaderSize(prefix: Uint8Array, fileSize: number, path?: string): number {
  if (fileSize < 8 || prefix.length < 8) {
    throw new FormatError('too-short', `file is ${fileSize} bytes, shorter than the 8-byte header length`, { path });
  }
  const n = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_SIZE)) {
    throw new FormatError('header-too-large', `header length ${n} exceeds ${MAX_HEADER_SIZE} bytes`, {
      path,
      hint: 'this is not a safetensors file, or it is corrupt',
    });
  }
  if (8 + Number(n) > fileSize) {
    throw new FormatError('too-short', `file is ${fileSize} bytes, shorter than its ${n}-byte header`, {
      path,
      hint: 'the file is truncated: download it again',
    });
  }
  return Number(n);
}

// `ignoreBOM` keeps a leading byte order mark in the text (the default strips it), so the
// "starts with {" check sees it: the format has no BOM, and the reference reader refuses one.
const fatalUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Validates a header (the N bytes after the length prefix) against the file size, checking what the format requires:
 * UTF-8, JSON object, string metadata, no duplicate names, known dtypes, contiguous offsets from 0,
 * sizes that match shapes, data ending exactly at the file's end. Throws FormatError with the reason.
 */
export function parseSafetensorsHeader(headerBytes: Uint8Array, fileSize: number, path?: string): SafetensorsHeader {
  const headerSize = headerBytes.length;
  let text: string;
  try {
    text = fatalUtf8.decode(headerBytes);
  } catch (cause) {
    throw new FormatError('invalid-utf8', 'header is not valid UTF-8', { path, cause });
  }
  if (!text.startsWith('{')) {
    const found = text.charCodeAt(0) === 0xfeff ? 'a UTF-8 byte order mark' : JSON.stringify(text.slice(0, 1));
    throw new FormatError('invalid-header-start', `header does not start with "{" (found ${found})`, {
      path,
      hint: 'a safetensors header is JSON right after the 8-byte length, with no byte order mark or leading space',
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new FormatError('invalid-json', `header is not valid JSON: ${(cause as Error).message}`, { path, cause });
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new FormatError('invalid-json', 'header is not a JSON object', { path });
  }
  const keys = topLevelKeys(text);
  const seen = new Set<string>();
  for (const key of keys) {
    if (seen.has(key))
      throw new FormatError('duplicate-name', `tensor name ${JSON.stringify(key)} appears twice`, { path });
    seen.add(key);
  }
  const record = json as Record<string, unknown>;
  let metadata: Record<string, string> = {};
  const tensors: TensorInfo[] = [];
  let metadataIndex = -1;
  keys.forEach((key, index) => {
    const value = record[key];
    if (key === '__metadata__') {
      metadataIndex = index;
      metadata = parseMetadata(value, path);
      return;
    }
    tensors.push(parseEntry(key, value, path));
  });
  const byOffset = [...tensors].sort(
    (a, b) => a.dataOffsets[0] - b.dataOffsets[0] || a.dataOffsets[1] - b.dataOffsets[1],
  );
  let expected = 0;
  for (const t of byOffset) {
    const [begin, end] = t.dataOffsets;
    if (begin !== expected) {
      const what = begin > expected ? `a gap before it (expected ${expected})` : `an overlap (expected ${expected})`;
      throw new FormatError('invalid-offsets', `tensor ${t.name} starts at ${begin}: ${what}`, { path });
    }
    expected = end;
  }
  for (const t of tensors) {
    let bytes: number;
    try {
      bytes = tensorByteLength(t.dtype, t.shape);
    } catch (error) {
      if (error instanceof FormatError)
        throw new FormatError(error.reason, `tensor ${t.name}: ${error.message}`, { path });
      throw error;
    }
    const [begin, end] = t.dataOffsets;
    if (end - begin !== bytes) {
      throw new FormatError(
        'size-mismatch',
        `tensor ${t.name} holds ${end - begin} bytes but ${t.dtype}[${t.shape}] needs ${bytes}`,
        { path },
      );
    }
  }
  const dataStart = 8 + headerSize;
  if (dataStart + expected !== fileSize) {
    const found = fileSize - dataStart;
    const message =
      found < expected
        ? `data buffer is ${found} bytes, ${expected - found} fewer than the header declares (truncated file?)`
        : `file has ${found - expected} bytes after the last tensor`;
    throw new FormatError('data-length', message, { path, hint: found < expected ? 'download it again' : undefined });
  }
  return { metadata, tensors, metadataIndex, headerSize, dataStart, dataSize: expected };
}

function parseMetadata(value: unknown, path: string | undefined): Record<string, string> {
  if (value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new FormatError('invalid-metadata', '__metadata__ is not an object of strings', { path });
  }
  const entries = Object.entries(value as Record<string, unknown>);
  for (const [k, v] of entries) {
    if (typeof v !== 'string') {
      throw new FormatError('invalid-metadata', `__metadata__.${k} is ${typeof v}, not a string`, { path });
    }
  }
  // fromEntries defines own properties: a key named `__proto__` stays a key, not a prototype change.
  return Object.fromEntries(entries) as Record<string, string>;
}

function isIndex(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function parseEntry(name: string, value: unknown, path: string | undefined): TensorInfo {
  const bad = (what: string) => new FormatError('invalid-entry', `tensor ${JSON.stringify(name)}: ${what}`, { path });
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad('entry is not an object');
  const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
  if (typeof dtype !== 'string') throw bad('dtype is not a string');
  if (dtypeBits(dtype) === undefined) {
    throw new FormatError('unknown-dtype', `tensor ${JSON.stringify(name)}: unknown dtype ${JSON.stringify(dtype)}`, {
      path,
    });
  }
  if (!Array.isArray(shape) || !shape.every(isIndex)) throw bad('shape is not an array of non-negative integers');
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isIndex)) {
    throw bad('data_offsets is not [begin, end]');
  }
  const [begin, end] = offsets as [number, number];
  if (end < begin)
    throw new FormatError('invalid-offsets', `tensor ${JSON.stringify(name)}: end ${end} < begin ${begin}`, { path });
  return { name, dtype, shape: shape as number[], dataOffsets: [begin, end] };
}

/** Top-level keys of a valid JSON object, in text order, duplicates kept (JSON.parse drops them). */
function topLevelKeys(text: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  let expectKey = false;
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      const start = i++;
      for (;;) {
        const ch = text.charCodeAt(i);
        if (ch === 0x5c) i += 2;
        else if (ch === 0x22) break;
        else i++;
      }
      i++;
      if (depth === 1 && expectKey) {
        keys.push(JSON.parse(text.slice(start, i)) as string);
        expectKey = false;
      }
      continue;
    }
    if (c === 0x7b) {
      depth++;
      if (depth === 1) expectKey = true;
    } else if (c === 0x5b) depth++;
    else if (c === 0x7d || c === 0x5d) depth--;
    else if (c === 0x2c && depth === 1) expectKey = true;
    i++;
  }
  return keys;
}

/** Assigns contiguous offsets to tensors in the given order (the usual writer layout). */
export function layoutTensors(tensors: readonly Omit<TensorInfo, 'dataOffsets'>[]): TensorInfo[] {
  let offset = 0;
  return tensors.map((t) => {
    const bytes = tensorByteLength(t.dtype, t.shape);
    const info: TensorInfo = {
      name: t.name,
      dtype: t.dtype,
      shape: [...t.shape],
      dataOffsets: [offset, offset + bytes],
    };
    offset += bytes;
    return info;
  });
}

/**
 * Encodes `u64 N | header` with entries in the order given (`__metadata__` at `metadataIndex`, first by default),
 * right-padded with spaces so the data starts 8-byte aligned. Offsets are written as given.
 */
export function encodeSafetensorsHeader(
  tensors: readonly TensorInfo[],
  metadata: Readonly<Record<string, string>> = {},
  options: { metadataIndex?: number } = {},
): Uint8Array {
  const entries: string[] = tensors.map(
    (t) =>
      `${JSON.stringify(t.name)}:${JSON.stringify({ dtype: t.dtype, shape: t.shape, data_offsets: t.dataOffsets })}`,
  );
  if (Object.keys(metadata).length > 0 || (options.metadataIndex ?? -1) >= 0) {
    const at = Math.min(Math.max(options.metadataIndex ?? 0, 0), entries.length);
    entries.splice(at, 0, `"__metadata__":${JSON.stringify(metadata)}`);
  }
  const json = new TextEncoder().encode(`{${entries.join(',')}}`);
  const n = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + n).fill(0x20, 8 + json.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(n), true);
  out.set(json, 8);
  return out;
}
