// Content-addressed objects: the digest of a value is the SHA-256 of its canonical JSON (keys
// sorted), so the same value under the same name is the same ref and a changed value a new one.

import { createHash } from 'node:crypto';
import { TraceError } from './errors.ts';

/** JSON with object keys sorted at every level (undefined members left out, as JSON does). */
export function canonicalJSON(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      const sorted: Record<string, unknown> = {};
      for (const k of Object.keys(v).sort()) sorted[k] = (v as Record<string, unknown>)[k];
      return sorted;
    }
    return v;
  });
}

/** The digest of a value: 32 hex digits of the SHA-256 of its canonical JSON. */
export function digestOf(value: unknown): string {
  const json = canonicalJSON(value);
  if (json === undefined) {
    throw new TypeError('save: the value has no JSON form (undefined, a function or a symbol); save a JSON value');
  }
  return createHash('sha256').update(json).digest('hex').slice(0, 32);
}

/** An object name: letters, digits, '.', '_' and '-' (it is part of a ref). */
export function checkName(name: string, what = 'save'): void {
  if (typeof name !== 'string' || !/^[A-Za-z0-9._-]+$/.test(name)) {
    throw new TypeError(`${what}: the name must be letters, digits, '.', '_' or '-', got ${JSON.stringify(name)}`);
  }
}

/** Parses 'sluice:///<project>/object/<name>:<digest>' (digest 'latest': the newest version). */
export function parseRef(ref: string): { project: string; name: string; digest: string } {
  const match = /^sluice:\/\/\/([^/]+)\/object\/([A-Za-z0-9._-]+):([A-Za-z0-9]+)$/.exec(String(ref));
  if (!match) {
    throw new TraceError('E_NOT_FOUND', `no object at ${JSON.stringify(ref)}: not an object ref`, {
      hint: "pass a ref returned by save() or table(), 'sluice:///<project>/object/<name>:<digest>'",
    });
  }
  return { project: match[1]!, name: match[2]!, digest: match[3]! };
}
