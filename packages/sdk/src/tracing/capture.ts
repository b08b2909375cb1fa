// What a call keeps of its inputs and outputs: parts in their wire form (text of one substream
// joined, binary parts as blobs by digest) up to a byte budget, then counts only.

import { createHash } from 'node:crypto';
import { isText, type Part } from '@sluice/core';
import type { Captured, CapturedPart } from './types.ts';

/** Writes a binary part's bytes once per digest (the Tracing's blob sink). */
export type BlobSink = (digest: string, mimetype: string, data: Uint8Array) => void;

/** Collects the parts of one side (inputs or outputs) of one call. */
export class PartCapture {
  readonly parts: CapturedPart[] = [];
  count = 0;
  truncated = false;
  #bytes = 0;
  /** The open text entry of each substream: later text of that substream is joined to it. */
  #text: Map<string, CapturedPart> | undefined;
  /** The entry the last text part went to (most parts continue the same substream). */
  #last: { substream: string; role: string; mimetype: string; entry: CapturedPart } | undefined;

  constructor(
    readonly budget: { left: number },
    readonly blobs: BlobSink | undefined,
  ) {}

  add(p: Part): void {
    this.count++;
    if (this.truncated) return;
    const text = p.text;
    if (text !== undefined && isText(p.mimetype) && !p.toolCall && !p.toolResult) {
      if (!this.#spend(text.length)) return;
      const last = this.#last;
      if (last && last.substream === p.substream && last.role === p.role && last.mimetype === p.mimetype) {
        last.entry.text += text;
        return;
      }
      const key = `${p.substream}\u0000${p.role}\u0000${p.mimetype}`;
      const open = (this.#text ??= new Map()).get(key);
      if (open) {
        open.text += text;
        this.#last = { substream: p.substream, role: p.role, mimetype: p.mimetype, entry: open };
        return;
      }
      const entry: CapturedPart = { mimetype: p.mimetype, text };
      if (p.role) entry.role = p.role;
      if (p.substream) entry.substream = p.substream;
      if (hasKeys(p.metadata)) entry.metadata = { ...p.metadata };
      this.#text.set(key, entry);
      this.#last = { substream: p.substream, role: p.role, mimetype: p.mimetype, entry };
      this.parts.push(entry);
      return;
    }
    const entry: CapturedPart = { mimetype: p.mimetype };
    if (p.role) entry.role = p.role;
    if (p.substream) entry.substream = p.substream;
    if (hasKeys(p.metadata)) entry.metadata = { ...p.metadata };
    if (p.toolCall) entry.toolCall = p.toolCall;
    if (p.toolResult) entry.toolResult = p.toolResult;
    if (p.data && p.data.length > 0) {
      const digest = `sha256:${createHash('sha256').update(p.data).digest('hex')}`;
      entry.blob = digest;
      entry.bytes = p.data.length;
      if (!this.#spend(p.data.length)) return;
      this.blobs?.(digest, p.mimetype, p.data);
    } else if (!this.#spend(64)) {
      return;
    }
    this.parts.push(entry);
  }

  #spend(bytes: number): boolean {
    if (this.budget.left < bytes) {
      this.truncated = true;
      return false;
    }
    this.budget.left -= bytes;
    this.#bytes += bytes;
    return true;
  }

  result(): Captured {
    const out: Captured = { parts: this.parts, count: this.count };
    if (this.truncated) out.truncated = true;
    return out;
  }
}

function hasKeys(o: object): boolean {
  for (const _ in o) return true;
  return false;
}

/**
 * A JSON-safe copy of `value` within `budget` bytes (its JSON length): values that do not fit
 * become `{ truncated: true, bytes }`; functions, symbols and cycles become strings.
 */
export function captureValue(value: unknown, budget: { left: number }): unknown {
  let json: string | undefined;
  try {
    const seen = new WeakSet<object>();
    json = JSON.stringify(value, (_key, v: unknown) => {
      if (typeof v === 'bigint') return `${v}n`;
      if (typeof v === 'function') return `[function ${(v as { name?: string }).name || 'anonymous'}]`;
      if (typeof v === 'symbol') return v.toString();
      if (v instanceof Uint8Array) return { bytes: v.length };
      if (v instanceof Error) return { name: v.name, message: v.message };
      if (typeof v === 'object' && v !== null) {
        if (seen.has(v)) return '[circular]';
        seen.add(v);
      }
      return v;
    });
  } catch {
    return '[unserializable]';
  }
  if (json === undefined) return undefined;
  if (json.length > budget.left) return { truncated: true, bytes: json.length };
  budget.left -= json.length;
  return JSON.parse(json);
}
