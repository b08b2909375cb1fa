// Local files the client may reuse instead of buying and downloading again.

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';

/** Bytes in a mebibyte: `sizeMb` is `sizeBytes / MiB`. */
export const MiB = 1024 * 1024;

/** True when `path` is a file of `sizeBytes` bytes whose sha256 is `sha256` (hex). Reads the file only when the size matches. */
export async function isVerifiedFile(
  path: string,
  sizeBytes: number,
  sha256: string,
  signal?: AbortSignal,
): Promise<boolean> {
  const info = await stat(path).catch(() => undefined);
  if (!info?.isFile() || info.size !== sizeBytes) return false;
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { signal, highWaterMark: MiB })) hash.update(chunk as Buffer);
  return hash.digest('hex') === sha256.toLowerCase();
}
