// safetensors: a validating reader, a writer and sharded-model loading.
// Layout: u64 LE N | N bytes of UTF-8 JSON header | data buffer. Every size a
// file declares is checked before anything is allocated from it; tensor data
// is read with positional I/O, block by block, into buffers the caller owns.

import { randomBytes } from 'node:crypto';
import { type FileHandle, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { FormatError } from './errors.ts';
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from './float16.js';

/** Largest header a reader accepts, as in the reference implementation. */
export const MAX_HEADER_SIZE = 100_000_000;

/** Bits per element of every dtype the format defines; arithmetic is done on F32, F16 and BF16 only. */
export const DTYPE_BITS: Readonly<Record<string, number>> = {
  BOOL: 8,
  U8: 8,
  I8: 8,
  F8_E5M2: 8,
  F8_E4M3: 8,
  F8_E8M0: 8,
  I16: 16,
  U16: 16,
  F16: 16,
  BF16: 16,
  I32: 32,
  U32: 32,
  F32: 32,
  C64: 64,
  F64: 64,
  I64: 64,
  U64: 64,
  F4: 4,
  F6_E2M3: 6,
  F6_E3M2: 6,
};

/** The dtypes `align` does arithmetic on. */
export type FloatDtype = 'F32' | 'F16' | 'BF16';

/** True for F32, F16 and BF16, the dtypes a delta can be applied to. */
export function isFloatDtype(dtype: string): dtype is FloatDtype {
  return dtype === 'F32' || dtype === 'F16' || dtype === 'BF16';
}

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

/** Number of elements of a shape (1 for a scalar); throws FormatError past 2^53. */
export function elementCount(shape: readonly number[]): number {
  let n = 1n;
  for (const d of shape) n *= BigInt(d);
  if (n > BigInt(Number.MAX_SAFE_INTEGER)) throw new FormatError('size-overflow', `shape [${shape}] is too large`);
  return Number(n);
}

/** Bytes of a tensor of `dtype` and `shape`, with checked arithmetic; throws FormatError on overflow or partial bytes. */
export function tensorByteLength(dtype: string, shape: readonly number[]): number {
  const bits = DTYPE_BITS[dtype];
  if (bits === undefined) throw new FormatError('unknown-dtype', `unknown dtype ${JSON.stringify(dtype)}`);
  let total = BigInt(bits);
  for (const d of shape) total *= BigInt(d);
  if (total % 8n !== 0n) throw new FormatError('size-mismatch', `${dtype}[${shape}] does not fill whole bytes`);
  const bytes = total / 8n;
  if (bytes > BigInt(Number.MAX_SAFE_INTEGER))
    throw new FormatError('size-overflow', `${dtype}[${shape}] is too large`);
  return Number(bytes);
}

/** Bytes per element of a byte-aligned dtype (F32: 4, BF16: 2, ...). */
export function dtypeBytes(dtype: string): number {
  const bits = DTYPE_BITS[dtype];
  if (bits === undefined || bits % 8 !== 0)
    throw new FormatError('unknown-dtype', `dtype ${dtype} has no whole-byte size`);
  return bits / 8;
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

const fatalUtf8 = new TextDecoder('utf-8', { fatal: true });

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
  if (!text.startsWith('{')) throw new FormatError('invalid-header-start', 'header does not start with "{"', { path });
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
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (typeof v !== 'string') {
      throw new FormatError('invalid-metadata', `__metadata__.${k} is ${typeof v}, not a string`, { path });
    }
    out[k] = v;
  }
  return out;
}

function isIndex(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function parseEntry(name: string, value: unknown, path: string | undefined): TensorInfo {
  const bad = (what: string) => new FormatError('invalid-entry', `tensor ${JSON.stringify(name)}: ${what}`, { path });
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad('entry is not an object');
  const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
  if (typeof dtype !== 'string') throw bad('dtype is not a string');
  if (DTYPE_BITS[dtype] === undefined) {
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

/** Reads `length` bytes at `position` into `into` (or a new buffer), looping over short reads. */
export async function readFully(
  handle: FileHandle,
  position: number,
  length: number,
  into: Uint8Array = new Uint8Array(length),
): Promise<Uint8Array> {
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(into, done, length - done, position + done);
    if (bytesRead === 0) throw new FormatError('data-length', `unexpected end of file at byte ${position + done}`);
    done += bytesRead;
  }
  return into.subarray(0, length);
}

/** Writes all of `bytes` at `position`, looping over short writes. */
export async function writeFully(handle: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, done, bytes.length - done, position + done);
    done += bytesWritten;
  }
}

/**
 * Validates the header of the open file `handle` (size `fileSize`); reads only the 8 + N header bytes.
 * Throws FormatError when the file is not valid safetensors.
 */
export async function readSafetensorsHeaderFrom(
  handle: FileHandle,
  fileSize: number,
  path?: string,
): Promise<SafetensorsHeader> {
  const prefix = fileSize >= 8 ? await readFully(handle, 0, 8) : new Uint8Array(0);
  const n = readHeaderSize(prefix, fileSize, path);
  const header = await readFully(handle, 8, n);
  return parseSafetensorsHeader(header, fileSize, path);
}

/** Reads and validates the header of the safetensors file at `path`; no tensor data is read. */
export async function readSafetensorsHeader(path: string): Promise<SafetensorsHeader> {
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    return await readSafetensorsHeaderFrom(handle, size, path);
  } finally {
    await handle.close();
  }
}

/**
 * An open, validated safetensors file: reads tensor bytes with positional I/O, any range, any order.
 * Concurrent reads are safe; `close()` must wait until they settled (the caller owns that ordering).
 */
export interface SafetensorsFile extends AsyncDisposable {
  readonly path: string;
  /** The open file descriptor (for positional reads from another thread; valid until `close()`). */
  readonly fd: number;
  readonly size: number;
  readonly header: SafetensorsHeader;
  readonly metadata: Readonly<Record<string, string>>;
  readonly tensors: readonly TensorInfo[];
  tensor(name: string): TensorInfo | undefined;
  /** Bytes `[byteOffset, byteOffset + byteLength)` of a tensor's data, into `into` when given. */
  read(tensor: TensorInfo | string, byteOffset?: number, byteLength?: number, into?: Uint8Array): Promise<Uint8Array>;
  close(): Promise<void>;
}

/** Opens and validates a safetensors file (header only). Throws FormatError, or the fs error (ENOENT, ...). */
export async function openSafetensors(path: string): Promise<SafetensorsFile> {
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    const header = await readSafetensorsHeaderFrom(handle, size, path);
    const byName = new Map(header.tensors.map((t) => [t.name, t]));
    let closed: Promise<void> | undefined;
    const file: SafetensorsFile = {
      path,
      fd: handle.fd,
      size,
      header,
      metadata: header.metadata,
      tensors: header.tensors,
      tensor: (name) => byName.get(name),
      async read(tensor, byteOffset = 0, byteLength, into) {
        const info = typeof tensor === 'string' ? byName.get(tensor) : tensor;
        if (!info) throw new RangeError(`${path}: no tensor named ${String(tensor)}`);
        const [begin, end] = info.dataOffsets;
        const length = byteLength ?? end - begin - byteOffset;
        if (byteOffset < 0 || length < 0 || begin + byteOffset + length > end) {
          throw new RangeError(`${path}: bytes ${byteOffset}+${length} are outside tensor ${info.name}`);
        }
        return readFully(handle, header.dataStart + begin + byteOffset, length, into);
      },
      close: () => (closed ??= handle.close()),
      [Symbol.asyncDispose]: () => file.close(),
    };
    return file;
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/** A tensor to write: its bytes are row-major little-endian. */
export interface TensorData {
  readonly name: string;
  readonly dtype: string;
  readonly shape: readonly number[];
  readonly data: ArrayBufferView;
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

/** A sibling temp path `<path>.<random>.partial`, in the same folder so that rename is atomic. */
export function partialPath(path: string): string {
  return `${path}.${randomBytes(6).toString('hex')}.partial`;
}

/**
 * Writes a whole safetensors file atomically (sibling `.partial`, fsync, rename), tensors in the order given.
 * For small and medium files (every tensor is in memory); `align` streams instead. On error, nothing is left behind.
 */
export async function writeSafetensors(
  path: string,
  tensors: readonly TensorData[],
  metadata: Readonly<Record<string, string>> = {},
): Promise<void> {
  const layout = layoutTensors(tensors);
  const header = encodeSafetensorsHeader(layout, metadata);
  const temp = partialPath(path);
  const handle = await open(temp, 'w');
  try {
    await writeFully(handle, header, 0);
    let position = header.length;
    for (const [i, t] of tensors.entries()) {
      const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
      const [begin, end] = layout[i]!.dataOffsets;
      const expected = end - begin;
      if (bytes.length !== expected) {
        throw new RangeError(`tensor ${t.name}: ${bytes.length} bytes given, ${t.dtype}[${t.shape}] needs ${expected}`);
      }
      await writeFully(handle, bytes, position);
      position += bytes.length;
    }
    await handle.sync();
    await handle.close();
    await rename(temp, path);
  } catch (error) {
    await handle.close().catch(() => {});
    await rm(temp, { force: true });
    throw error;
  }
}

/** Name of the index file of a sharded model. */
export const INDEX_FILE = 'model.safetensors.index.json';
/** Name of the single file of an unsharded model folder. */
export const SINGLE_FILE = 'model.safetensors';

/** A tensor of a model and the file (shard) that holds it. */
export interface ModelTensor {
  readonly name: string;
  readonly file: SafetensorsFile;
  readonly info: TensorInfo;
}

/** The parsed `model.safetensors.index.json`; `raw` is the whole JSON object, other keys included. */
export interface ModelIndex {
  readonly metadata: Readonly<Record<string, unknown>>;
  readonly weightMap: Readonly<Record<string, string>>;
  readonly raw: Readonly<Record<string, unknown>>;
}

/** A base model: one `.safetensors` file, or a folder with an index and shards (or with a single `model.safetensors`). */
export interface WeightsModel extends AsyncDisposable {
  readonly path: string;
  /** True when the model is a folder with `model.safetensors.index.json`. */
  readonly sharded: boolean;
  /** True when `path` is a folder (sharded or holding a single `model.safetensors`). */
  readonly isFolder: boolean;
  /** The files, in index order for a sharded model. */
  readonly files: readonly SafetensorsFile[];
  /** All tensors: shard by shard, each in header order. */
  readonly tensors: readonly ModelTensor[];
  /** The parsed index file of a sharded model. */
  readonly index: ModelIndex | undefined;
  tensor(name: string): ModelTensor | undefined;
  close(): Promise<void>;
}

/**
 * Opens a model: a `.safetensors` file, or a folder with `model.safetensors.index.json` (every shard opened and
 * validated, the weight map checked against the shards) or with `model.safetensors`. Throws FormatError.
 */
export async function openModel(path: string): Promise<WeightsModel> {
  const info = await stat(path);
  const files: SafetensorsFile[] = [];
  try {
    if (!info.isDirectory()) {
      files.push(await openSafetensors(path));
      return makeModel(path, false, false, files, undefined);
    }
    const indexPath = join(path, INDEX_FILE);
    let indexText: string | undefined;
    try {
      indexText = await readFile(indexPath, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    if (indexText === undefined) {
      files.push(
        await openSafetensors(join(path, SINGLE_FILE)).catch((error: NodeJS.ErrnoException) => {
          if (error.code === 'ENOENT') {
            throw new FormatError('invalid-index', `folder has neither ${INDEX_FILE} nor ${SINGLE_FILE}`, { path });
          }
          throw error;
        }),
      );
      return makeModel(path, false, true, files, undefined);
    }
    const index = parseIndex(indexText, indexPath);
    const shardNames = [...new Set(Object.values(index.weightMap))];
    for (const shard of shardNames) files.push(await openSafetensors(join(path, shard)));
    const model = makeModel(path, true, true, files, index);
    for (const t of model.tensors) {
      if (index.weightMap[t.name] !== basename(t.file.path)) {
        throw new FormatError(
          'invalid-index',
          `tensor ${t.name} is in ${basename(t.file.path)} but the index says ${index.weightMap[t.name] ?? 'nothing'}`,
          { path: indexPath },
        );
      }
    }
    for (const name of Object.keys(index.weightMap)) {
      if (!model.tensor(name)) {
        throw new FormatError('invalid-index', `tensor ${name} is in the index but not in ${index.weightMap[name]}`, {
          path: indexPath,
        });
      }
    }
    return model;
  } catch (error) {
    await Promise.allSettled(files.map((f) => f.close()));
    throw error;
  }
}

function parseIndex(text: string, path: string): ModelIndex {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new FormatError('invalid-index', `not valid JSON: ${(cause as Error).message}`, { path, cause });
  }
  const record = (typeof json === 'object' && json !== null ? json : {}) as Record<string, unknown>;
  const weightMap = record.weight_map;
  if (typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap)) {
    throw new FormatError('invalid-index', 'weight_map is missing or not an object', { path });
  }
  const folder = resolve(dirname(path));
  for (const [name, shard] of Object.entries(weightMap)) {
    if (
      typeof shard !== 'string' ||
      shard === '' ||
      !resolve(folder, shard).startsWith(folder + sep) ||
      shard.includes('/') ||
      shard.includes('\\')
    ) {
      throw new FormatError(
        'invalid-index',
        `weight_map[${JSON.stringify(name)}] is not a shard file name in the folder`,
        { path },
      );
    }
  }
  const metadata = record.metadata;
  return {
    metadata: typeof metadata === 'object' && metadata !== null ? (metadata as Record<string, unknown>) : {},
    weightMap: weightMap as Record<string, string>,
    raw: record,
  };
}

function makeModel(
  path: string,
  sharded: boolean,
  isFolder: boolean,
  files: SafetensorsFile[],
  index: WeightsModel['index'],
): WeightsModel {
  const tensors: ModelTensor[] = [];
  const byName = new Map<string, ModelTensor>();
  for (const file of files) {
    for (const t of file.tensors) {
      if (byName.has(t.name)) {
        throw new FormatError(
          'duplicate-name',
          `tensor ${t.name} is in ${basename(byName.get(t.name)!.file.path)} and ${basename(file.path)}`,
          { path },
        );
      }
      const entry = { name: t.name, file, info: t };
      tensors.push(entry);
      byName.set(t.name, entry);
    }
  }
  const model: WeightsModel = {
    path,
    sharded,
    isFolder,
    files,
    tensors,
    index,
    tensor: (name) => byName.get(name),
    close: async () => {
      await Promise.allSettled(files.map((f) => f.close()));
    },
    [Symbol.asyncDispose]: () => model.close(),
  };
  return model;
}

/** Decodes little-endian F64/F32/F16/BF16 bytes to numbers (exact). Throws RangeError for other dtypes. */
export function decodeFloats(dtype: string, bytes: Uint8Array): Float64Array<ArrayBuffer> {
  const size = dtypeBytes(dtype);
  if (bytes.length % size !== 0) throw new RangeError(`${bytes.length} bytes is not a whole number of ${dtype}`);
  const count = bytes.length / size;
  const own = bytes.byteOffset % 8 === 0 ? bytes : bytes.slice();
  const out = new Float64Array(count);
  switch (dtype) {
    case 'F64':
      out.set(new Float64Array(own.buffer, own.byteOffset, count));
      break;
    case 'F32':
      out.set(new Float32Array(own.buffer, own.byteOffset, count));
      break;
    case 'F16':
    case 'BF16': {
      const bits = new Uint16Array(own.buffer, own.byteOffset, count);
      for (let i = 0; i < count; i++) out[i] = dtype === 'F16' ? f16ToF32(bits[i]!) : bf16ToF32(bits[i]!);
      break;
    }
    default:
      throw new RangeError(`cannot decode ${dtype} as floating point`);
  }
  return out;
}

/** Encodes numbers as little-endian F64/F32/F16/BF16 bytes (rounding to nearest even, through binary32 for 16-bit). */
export function encodeFloats(dtype: string, values: ArrayLike<number>): Uint8Array {
  switch (dtype) {
    case 'F64':
      return new Uint8Array(Float64Array.from(values).buffer);
    case 'F32':
      return new Uint8Array(Float32Array.from(values).buffer);
    case 'F16':
      return new Uint8Array(Uint16Array.from(Array.from(values, (v) => f32ToF16(v))).buffer);
    case 'BF16':
      return new Uint8Array(Uint16Array.from(Array.from(values, (v) => f32ToBf16(v))).buffer);
    default:
      throw new RangeError(`cannot encode ${dtype} from numbers`);
  }
}
