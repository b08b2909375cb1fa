// Redis stores for the flow-control wrappers: the shared count of `rateLimit` starts and the shared
// results of `cache`, so limits and cached outputs hold across processes.

import { randomUUID } from 'node:crypto';
import type { PartJSON } from '@sluice/core';
import type { CacheStore } from '../flow/cache.ts';
import type { RateLimitStore } from '../flow/rate-limit.ts';
import { type Connection, type Lease, lease } from './connection.ts';
import { RedisOptionError } from './errors.ts';
import { DEFAULT_NAMESPACE, keysOf } from './keys.ts';
import { RATE } from './scripts.ts';

/** A store holding a connection to Redis until closed. */
export interface RedisStore extends AsyncDisposable {
  /** Releases the connection (taken again on next use). */
  close(): Promise<void>;
}

/** Options of `redisRateLimitStore`. */
export interface RedisRateLimitStoreOptions {
  redis: string;
  /** The shared budget's name: every limiter using this name (any process) counts in it. */
  name: string;
  namespace?: string;
}

/** Options of `redisCacheStore`. */
export interface RedisCacheStoreOptions {
  redis: string;
  namespace?: string;
  /** Entry lifetime (Redis expiry). Default: no expiry. */
  ttlMs?: number;
}

function connect(url: string) {
  let held: Promise<Lease> | undefined;
  return {
    get: async (): Promise<Connection> => {
      held ??= lease(url);
      try {
        return (await held).connection;
      } catch (error) {
        held = undefined;
        throw error;
      }
    },
    close: async () => {
      const current = held;
      held = undefined;
      if (current) await (await current).release();
    },
  };
}

/**
 * A `RateLimitStore` on Redis: a sliding-window log of start times (Redis's clock) in a sorted set,
 * checked and appended by one Lua script, so "at most N starts in any window" holds across all the
 * processes that use `name`. The key expires a window after the last start.
 */
export function redisRateLimitStore(options: RedisRateLimitStoreOptions): RateLimitStore & RedisStore {
  if (typeof options?.redis !== 'string' || typeof options.name !== 'string' || options.name === '') {
    throw new RedisOptionError(
      'redisRateLimitStore: expected { redis: <url>, name: <budget name> }',
      'name the shared budget, e.g. the API key it protects',
    );
  }
  const key = keysOf(options.namespace ?? DEFAULT_NAMESPACE).rate(options.name);
  const connection = connect(options.redis);
  return {
    async tryStart(limit, windowMs) {
      const c = await connection.get();
      const [granted, value] = await c.eval<[number, number]>(
        RATE,
        [key],
        [String(limit), String(Math.max(1, Math.round(windowMs))), randomUUID()],
      );
      return Number(granted) === 1 ? 0 : Number(value);
    },
    close: connection.close,
    [Symbol.asyncDispose]: connection.close,
  };
}

/** A `CacheStore` on Redis: one key per entry (the parts' JSON), with `ttlMs` as Redis expiry. */
export function redisCacheStore(options: RedisCacheStoreOptions): CacheStore & RedisStore {
  if (typeof options?.redis !== 'string') {
    throw new RedisOptionError(
      'redisCacheStore: options.redis must be a Redis URL',
      "pass { redis: 'redis://127.0.0.1:6379' }",
    );
  }
  const keys = keysOf(options.namespace ?? DEFAULT_NAMESPACE);
  const connection = connect(options.redis);
  return {
    async get(key) {
      const text = await (await connection.get()).send<string | null>(['GET', keys.cache(key)]);
      return text === null ? undefined : (JSON.parse(text) as PartJSON[]);
    },
    async set(key, parts) {
      const args = ['SET', keys.cache(key), JSON.stringify(parts)];
      if (options.ttlMs !== undefined) args.push('PX', String(Math.max(1, Math.round(options.ttlMs))));
      await (await connection.get()).send(args);
    },
    close: connection.close,
    [Symbol.asyncDispose]: connection.close,
  };
}
