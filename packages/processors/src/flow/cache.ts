import { createHash } from 'node:crypto';
import {
  EXCEPTION_MIMETYPE,
  fromJSON,
  isReservedSubstream,
  type Part,
  type PartJSON,
  type Processor,
  processor,
  statusPart,
  toJSON,
} from '@sluice/core';
import { z } from 'zod';
import { configOf, withConfig } from '../models/config.ts';

/** Where `cache` keeps outputs: a key-value store of your choice (in memory, Redis, a file). Values are JSON-safe. */
export interface CacheStore {
  get(key: string): Promise<readonly PartJSON[] | undefined> | readonly PartJSON[] | undefined;
  set(key: string, parts: readonly PartJSON[]): Promise<void> | void;
}

/** Options of `memoryStore`. */
export interface MemoryStoreOptions {
  /** Entries kept; the least recently used goes first. Default 1000. */
  maxEntries?: number;
  /** Entry lifetime; default: no expiry. Time is `Date.now()` (fake timers drive it). */
  ttlMs?: number;
}

/** An in-memory LRU `CacheStore`. */
export interface MemoryStore extends CacheStore {
  readonly size: number;
  delete(key: string): boolean;
  clear(): void;
}

/**
 * An in-memory LRU store: `get` refreshes an entry's recency, `set` evicts
 * the least recently used entry beyond `maxEntries` (default 1000), entries
 * older than `ttlMs` read as missing. Synchronous; no timers.
 */
export function memoryStore(options: MemoryStoreOptions = {}): MemoryStore {
  const maxEntries = options.maxEntries ?? 1000;
  if (!(maxEntries >= 1)) throw new RangeError(`memoryStore: maxEntries must be >= 1, got ${String(maxEntries)}`);
  const entries = new Map<string, { parts: readonly PartJSON[]; at: number }>();
  return {
    get size() {
      return entries.size;
    },
    get(key) {
      const entry = entries.get(key);
      if (!entry) return undefined;
      entries.delete(key);
      if (options.ttlMs !== undefined && Date.now() - entry.at > options.ttlMs) return undefined;
      entries.set(key, entry);
      return entry.parts;
    },
    set(key, parts) {
      entries.delete(key);
      entries.set(key, { parts, at: Date.now() });
      while (entries.size > maxEntries) entries.delete(entries.keys().next().value as string);
    },
    delete: (key) => entries.delete(key),
    clear: () => entries.clear(),
  };
}

/** Options of `cache`. */
export interface CacheOptions {
  /** Default: a `memoryStore()` private to this wrapper. */
  store?: CacheStore;
  /** Separates processors that share a name but differ in ways their configuration does not show. */
  namespace?: string;
  /** Computes the key yourself from the input parts (the namespace is still prefixed). */
  key?: (input: readonly Part[]) => string | Promise<string>;
}

/**
 * A stable JSON text of any value for hashing: sorted keys, bytes as base64,
 * zod schemas as JSON Schema, functions by name, cycles marked. Pure.
 */
export function stableStringify(value: unknown): string {
  const seen = new WeakSet<object>();
  const normalize = (item: unknown): unknown => {
    if (item === undefined) return null;
    if (typeof item === 'bigint') return `${item}n`;
    if (typeof item === 'function') return `[function ${item.name || 'anonymous'}]`;
    if (item === null || typeof item !== 'object') return item;
    if (item instanceof Uint8Array) return { $bytes: Buffer.from(item).toString('base64') };
    if (item instanceof z.ZodType) return { $zod: normalize(z.toJSONSchema(item, { unrepresentable: 'any' })) };
    if (seen.has(item)) return '[circular]';
    seen.add(item);
    if (Array.isArray(item)) return item.map(normalize);
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(item).sort()) out[key] = normalize((item as Record<string, unknown>)[key]);
    return out;
  };
  return JSON.stringify(normalize(value));
}

/**
 * The default cache key: sha256 (hex) of the namespace, the processor's name
 * and configuration (`configOf`), and the input parts in their wire form.
 * Deterministic across processes; pure.
 */
export function cacheKey(p: Processor, input: readonly Part[], namespace = ''): string {
  const text = stableStringify({ namespace, name: p.name, config: configOf(p) ?? null, input: input.map(toJSON) });
  return createHash('sha256').update(text).digest('hex');
}

/**
 * Replays `p`'s output for an input it has seen. A miss runs `p` and
 * streams its parts through as they come; the output is stored only when the
 * run ends normally with at least one part and no exception part (failures,
 * stopped runs and empty outputs are never cached; status/debug parts are not
 * stored). A hit replays the stored parts at once, then a status part with
 * metadata `{ cache: 'hit' }`. The input is gathered first to compute the key.
 */
export function cache(p: Processor, options: CacheOptions = {}): Processor {
  const store = options.store ?? memoryStore();
  const namespace = options.namespace ?? '';
  const wrapped = processor(
    async function* cached(input, ctx) {
      const parts = await input.gather();
      const key = options.key ? `${namespace}:${await options.key(parts)}` : cacheKey(p, parts, namespace);
      const hit = await store.get(key);
      if (hit && hit.length > 0) {
        for (const json of hit) yield fromJSON(json);
        yield statusPart(`${p.name}: cache hit`, { metadata: { cache: 'hit', key } });
        return;
      }
      const recorded: PartJSON[] = [];
      let cacheable = true;
      for await (const part of p(parts, { signal: ctx.signal })) {
        if (!isReservedSubstream(part.substream)) {
          if (part.mimetype === EXCEPTION_MIMETYPE) cacheable = false;
          recorded.push(toJSON(part));
        }
        yield part;
      }
      if (cacheable && recorded.length > 0) await store.set(key, recorded);
    },
    { name: `cache(${p.name})` },
  );
  return withConfig(wrapped, { wraps: p.name, inner: configOf(p), namespace });
}
