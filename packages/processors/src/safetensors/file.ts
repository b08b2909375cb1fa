// Reading a safetensors file: its header validated on open, tensor bytes read with positional
// I/O, block by block, into buffers the caller owns.

import { type FileHandle, open } from 'node:fs/promises';
import { FormatError } from './errors.ts';
import { parseSafetensorsHeader, readHeaderSize, type SafetensorsHeader, type TensorInfo } from './header.ts';

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
