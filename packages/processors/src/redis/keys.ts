// Every Redis key this module uses, in one place. All keys of one namespace share the prefix
// `<namespace>:`; a processor's keys add its name in braces (a Redis Cluster hash tag).

import { randomBytes } from 'node:crypto';

/**
 * A new run or caller id: 96 random bits in 16 base64url characters (no spaces, safe in keys). It
 * travels in every part entry and every message, so it is shorter than a UUID.
 */
export function newId(): string {
  return randomBytes(12).toString('base64url');
}

/** Default namespace of `distributed`, `serve` and `redisQueue`. */
export const DEFAULT_NAMESPACE = 'sluice';

/** The consumer group of a processor's parts stream (every worker of that processor is in it). */
export const WORKERS_GROUP = 'workers';

export function keysOf(namespace: string) {
  const ns = namespace;
  return {
    /** Stream of parts waiting for (or held by) a worker of `processor`; trimmed, never expires. */
    parts: (processor: string) => `${ns}:proc:{${processor}}:parts`,
    /** Dead-letter stream of `processor`: parts delivered `maxDeliveries` times without an end. */
    dead: (processor: string) => `${ns}:proc:{${processor}}:dead`,
    /** A run is alive while this key exists (the caller refreshes its TTL; deleted when the run stops). */
    run: (runId: string) => `${ns}:run:${runId}`,
    /** Stream of outputs for one caller process (its TTL is refreshed while it has runs). */
    outputs: (callerId: string) => `${ns}:caller:${callerId}:out`,
    /** A binary payload too large to travel inline, with a TTL. */
    blob: (id: string) => `${ns}:blob:${id}`,
    /** Pub/sub channel of stopped runs: workers abort the parts of a run named on it. */
    stopChannel: `${ns}:stop`,
    /** Stream of a `redisQueue`. */
    queue: (name: string) => `${ns}:queue:{${name}}`,
    /** JSON state of a closed or failed `redisQueue`. */
    queueState: (name: string) => `${ns}:queue:{${name}}:state`,
    /** Sliding-window log of a shared rate limiter. */
    rate: (name: string) => `${ns}:rate:{${name}}`,
    /** A cached output of `cache` with a Redis store. */
    cache: (key: string) => `${ns}:cache:${key}`,
  };
}

export type Keys = ReturnType<typeof keysOf>;

/** The run key prefix a Lua script appends a run id to. */
export function runPrefix(namespace: string): string {
  return `${namespace}:run:`;
}
