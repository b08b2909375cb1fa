// What travels through Redis: parts in their JSON wire form (large binary payloads in keys of their
// own, with a TTL), errors in the error dialect's plain-object form, and the messages a worker
// sends back to a caller. Every output carries (run, part index, delivery attempt, sequence), so
// the caller rebuilds each part's outputs whatever order or repetition the broker delivers them in.

import { randomUUID } from 'node:crypto';
import { fromJSON, isText, part as makePart, type Part, type PartJSON, toJSON } from '@sluice/core';
import type { ErrorJSON } from '@sluice/streams';
import type { Connection, RedisArg } from './connection.ts';
import { RedisConnectionError } from './errors.ts';
import type { Keys } from './keys.ts';

/** Binary payloads larger than this (bytes) go into a key of their own instead of the stream entry. */
export const INLINE_BYTES = 64 * 1024;
/** Lifetime of a payload key: long enough for a queued part to wait for a worker. */
export const BLOB_TTL_MS = 15 * 60_000;

/**
 * An inline part on the wire: its JSON form without the fields at their defaults (role '',
 * substream '', no metadata, and mimetype 'text/plain' when it has text). A plain text part is
 * `{"text":"..."}`.
 */
export type InlineWire = Omit<PartJSON, 'mimetype'> & { mimetype?: string };
/** A large binary part on the wire: its JSON form without the bytes (`j`), and the key that holds them (`b`). */
export interface BlobWire {
  j: PartJSON;
  b: string;
}
/** A part on the wire (the two forms never share a key: a part's JSON has no `b`). */
export type WirePart = InlineWire | BlobWire;

/** True for the large-binary form. */
export function isBlob(wire: WirePart): wire is BlobWire {
  return typeof (wire as BlobWire).b === 'string';
}

/**
 * A message from a worker to a caller, about part `i` of run `r`, delivery attempt `a`, as a JSON
 * array (no key names on the wire): output `s` of the part (`z` 1 when it is the part's last: no
 * end message follows), the part's end, or its error.
 */
export type OutputMessage = [t: 'p', r: string, i: number, a: number, s: number, p: WirePart, z?: 1];
export type Message =
  | OutputMessage
  | [t: 'e', r: string, i: number, a: number]
  | [t: 'x', r: string, i: number, a: number, e: ErrorJSON];

/** A command to send before the entry that refers to it (the SET of a large payload). */
export type Command = readonly RedisArg[];

/** The inline wire form of `p` (see `InlineWire`). */
function compactJSON(p: Part): InlineWire {
  if (p.data !== undefined || p.toolCall !== undefined || p.toolResult !== undefined) return toJSON(p);
  const out: InlineWire = {};
  if (p.mimetype !== 'text/plain' || p.text === undefined) out.mimetype = p.mimetype;
  if (p.text !== undefined) out.text = p.text;
  if (p.role !== '') out.role = p.role;
  if (p.substream !== '') out.substream = p.substream;
  // Part metadata is frozen: the message can refer to it until it is serialized.
  for (const _ in p.metadata) {
    out.metadata = p.metadata;
    break;
  }
  return out;
}

/** The wire form of `p`; a large binary payload adds a SET (with TTL) to `before`. */
export function encodePart(p: Part, keys: Keys, before: Command[]): WirePart {
  if (p.data === undefined || p.data.byteLength <= INLINE_BYTES) return compactJSON(p);
  const { data: _data, ...json } = toJSON(makePart(p, { data: new Uint8Array(0) }));
  const key = keys.blob(randomUUID());
  before.push([
    'SET',
    key,
    Buffer.from(p.data.buffer, p.data.byteOffset, p.data.byteLength),
    'PX',
    String(BLOB_TTL_MS),
  ]);
  return { j: json, b: key };
}

/**
 * Rebuilds an inline part. The common case (a text part with plain fields) is checked by hand, not
 * by the zod schema: this runs for every part and every output; anything else goes through `fromJSON`.
 */
export function partFromWire(json: InlineWire): Part {
  const { text, role, substream, metadata } = json;
  const mimetype = json.mimetype ?? (typeof text === 'string' ? 'text/plain' : undefined);
  if (
    typeof text === 'string' &&
    typeof mimetype === 'string' &&
    json.data === undefined &&
    json.toolCall === undefined &&
    json.toolResult === undefined &&
    (role === undefined || typeof role === 'string') &&
    (substream === undefined || typeof substream === 'string') &&
    (metadata === undefined || (typeof metadata === 'object' && metadata !== null && !Array.isArray(metadata))) &&
    isText(mimetype)
  ) {
    return makePart(text, { mimetype, role: role ?? '', substream: substream ?? '', metadata: metadata ?? {} });
  }
  return fromJSON(mimetype === json.mimetype ? json : { ...json, mimetype });
}

/** Rebuilds a part; `take` deletes its payload key once read (outputs are read once, inputs may be redelivered). */
export async function decodePart(wire: WirePart, connection: Connection, take: boolean): Promise<Part> {
  if (!isBlob(wire)) return partFromWire(wire);
  const bytes = await connection.sendForBuffers<Buffer | null>([take ? 'GETDEL' : 'GET', wire.b]);
  if (bytes === null) {
    throw new RedisConnectionError(`the payload of a ${wire.j.mimetype} part (key ${wire.b}) has expired`, {
      hint: `payload keys live ${BLOB_TTL_MS / 60_000} minutes; a part waited longer than that for a worker`,
    });
  }
  const shell = fromJSON({ ...wire.j, data: '' });
  return makePart(shell, { data: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) });
}

/** The key holding a part's bytes, when it has one. */
export function blobKeyOf(wire: WirePart): string | undefined {
  return isBlob(wire) ? wire.b : undefined;
}

/** Reads a stream entry's flat field list (`[f1, v1, f2, v2, ...]`) into a record. */
export function fieldsOf(flat: readonly unknown[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let k = 0; k + 1 < flat.length; k += 2) out[String(flat[k])] = String(flat[k + 1]);
  return out;
}

/** A stream ID just above `id` (for exclusive ranges and XTRIM MINID). */
export function nextId(id: string): string {
  const dash = id.indexOf('-');
  return `${id.slice(0, dash)}-${BigInt(id.slice(dash + 1)) + 1n}`;
}
