// What a downloaded file must match before it is kept, and files already there that need no request.

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { DownloadRequest } from './schemas.ts';

const CHUNK = 1024 * 1024;

/** The sha256 (hex) a response vouches for: `Repr-Digest`, `Digest`, `X-Linked-Etag` or a strong 64-hex ETag. */
export function serverSha256(headers: Readonly<Record<string, string>>): string | undefined {
  const repr = headers['repr-digest'];
  const fromRepr = repr ? /sha-256=:([A-Za-z0-9+/=]+):/i.exec(repr) : null;
  if (fromRepr?.[1]) return Buffer.from(fromRepr[1], 'base64').toString('hex');
  const digest = headers.digest;
  const fromDigest = digest ? /sha-256=([A-Za-z0-9+/=]+)/i.exec(digest) : null;
  if (fromDigest?.[1]) return Buffer.from(fromDigest[1], 'base64').toString('hex');
  for (const name of ['x-linked-etag', 'etag']) {
    const value = headers[name];
    const hex = value ? /^"?([0-9a-f]{64})"?$/i.exec(value.trim()) : null;
    if (hex?.[1]) return hex[1].toLowerCase();
  }
  return undefined;
}

/** The sha256 (hex) of the file at `path`. */
export async function sha256OfFile(path: string, signal?: AbortSignal): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: CHUNK, signal })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** The sha256 of a file already at `path` that matches the request's sha256 (and size), else undefined. */
export async function verifiedSha256(
  path: string,
  request: DownloadRequest,
  signal?: AbortSignal,
): Promise<string | undefined> {
  if (!request.sha256) return undefined;
  const info = await stat(path).catch(() => undefined);
  if (!info?.isFile() || (request.size !== undefined && info.size !== request.size)) return undefined;
  const sha = await sha256OfFile(path, signal);
  return sha === request.sha256.toLowerCase() ? sha : undefined;
}
