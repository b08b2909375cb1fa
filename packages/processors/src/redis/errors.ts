import { type ErrorJSON, SluiceError } from '@sluice/streams';

/** What a worker's error looked like on the worker: its name, message, stack and code. */
export interface RemoteErrorInfo {
  name: string;
  message: string;
  stack?: string;
  code?: string;
}

/**
 * A part failed in another process: the worker's processor threw (`remote` is that error), or the
 * part was delivered `maxDeliveries` times without a worker finishing it (`remote.code`
 * 'E_MAX_DELIVERIES'; the part is in the dead-letter stream). Under `catchErrors` it becomes the
 * exception part in the part's place.
 */
export class RemoteProcessorError extends SluiceError {
  override name = 'RemoteProcessorError';
  declare readonly code: 'E_REMOTE';
  readonly remote: RemoteErrorInfo;
  /** The remote processor's name, as `distributed(name)` called it. */
  readonly processor: string;

  constructor(processor: string, remote: RemoteErrorInfo, options: { hint?: string } = {}) {
    super('E_REMOTE', `${processor} failed on a worker: ${remote.name}: ${remote.message}`, {
      hint:
        options.hint ??
        (remote.code === 'E_MAX_DELIVERIES'
          ? 'the workers that took this part died before finishing it; read the dead-letter stream, fix the cause, and send the part again'
          : 'the error was thrown by the processor in the worker process; see `remote` (its stack is the worker’s)'),
    });
    this.processor = processor;
    this.remote = remote;
  }

  /** Built from the plain-object form a worker sent (`errorToJSON`). */
  static fromJSON(processor: string, json: ErrorJSON): RemoteProcessorError {
    const remote: RemoteErrorInfo = { name: json.name, message: json.message };
    if (json.stack !== undefined) remote.stack = json.stack;
    if (json.code !== undefined) remote.code = json.code;
    return new RemoteProcessorError(processor, remote);
  }
}

/** Redis could not be reached, or answered in a way this module does not understand. */
export class RedisConnectionError extends SluiceError {
  override name = 'RedisConnectionError';
  constructor(message: string, options: { hint?: string; cause?: unknown } = {}) {
    super('E_REDIS', message, {
      hint: options.hint ?? 'check that Redis (>= 7.0) runs at that URL and is reachable from this process',
      cause: options.cause,
    });
  }
}

/** A `serve`, `distributed` or `redisQueue` option is out of range. */
export class RedisOptionError extends SluiceError {
  override name = 'RedisOptionError';
  constructor(message: string, hint: string) {
    super('E_REDIS_OPTION', message, { hint });
  }
}

/** Checks an option is a positive integer (or undefined); returns it or the default. */
export function positiveInt(where: string, name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1) {
    throw new RedisOptionError(
      `${where}: ${name} must be an integer >= 1, got ${String(value)}`,
      `leave ${name} out for the default (${fallback})`,
    );
  }
  return value;
}
