// @sluice/processors/redis: part processors, queues, rate limits and caches across processes, on
// Redis Streams through node-redis. Importing `@sluice/processors` alone never loads this module.

export {
  DEFAULT_CLAIM_IDLE_MS,
  DEFAULT_DISTRIBUTED_CONCURRENCY,
  DEFAULT_MAX_DELIVERIES,
  type DistributedOptions,
  distributed,
} from './caller.ts';
export { RedisConnectionError, RedisOptionError, type RemoteErrorInfo, RemoteProcessorError } from './errors.ts';
export { DEFAULT_NAMESPACE, keysOf } from './keys.ts';
export { DEFAULT_QUEUE_HIGH_WATER_MARK, RedisQueue, type RedisQueueOptions, redisQueue } from './queue.ts';
export {
  type RedisCacheStoreOptions,
  type RedisRateLimitStoreOptions,
  type RedisStore,
  redisCacheStore,
  redisRateLimitStore,
} from './stores.ts';
export { BLOB_TTL_MS, INLINE_BYTES } from './wire.ts';
export { DEFAULT_WORKER_CONCURRENCY, type RemoteWorker, type ServeOptions, serve } from './worker.ts';
