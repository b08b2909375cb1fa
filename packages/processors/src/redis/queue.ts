// redisQueue(): an AsyncQueue whose items live in a Redis stream, so producers and consumers in
// different processes share it. Consumer groups give the two delivery modes: within a group each
// item goes to one consumer; every group sees every item.

import { randomUUID } from 'node:crypto';
import { isPart, type Part } from '@sluice/core';
import { AsyncQueue, type ErrorJSON, errorFromJSON, errorToJSON, QueueClosedError } from '@sluice/streams';
import { Connection, type Lease, lease, unblock } from './connection.ts';
import { positiveInt, RedisOptionError } from './errors.ts';
import { DEFAULT_NAMESPACE, keysOf } from './keys.ts';
import { QUEUE_PUT, TRIM } from './scripts.ts';
import { type Command, decodePart, encodePart, fieldsOf, type WirePart } from './wire.ts';

/** Options of `redisQueue`. */
export interface RedisQueueOptions {
  /** Redis URL, e.g. `redis://127.0.0.1:6379`. */
  redis: string;
  /** `put` waits while this many items of the group are unread or unacknowledged. Default 64. */
  highWaterMark?: number;
  /** The consumer group this queue's consumers read in (and whose backlog `put` watches). Default 'default'. */
  group?: string;
  /** Prefix of every key. Default 'sluice'. */
  namespace?: string;
  /** An item held this long by a consumer that went away is given to another consumer of the group. Default 30,000 ms. */
  claimIdleMs?: number;
}

export const DEFAULT_QUEUE_HIGH_WATER_MARK = 64;
/** How long a consumer's read blocks before it checks whether the queue was closed. */
const POLL_MS = 200;
/** How long a closed queue's keys stay once closed (time for the consumers to drain it). */
const CLOSED_TTL_MS = 24 * 60 * 60_000;

type State = { closed: true } | { failed: ErrorJSON };

/**
 * An `AsyncQueue` on a Redis stream: `put` (any process) resolves once the item is in Redis and the
 * group's backlog (items not yet read, plus items read and not yet acknowledged) is below
 * `highWaterMark`, polling 5 to 100 ms while it is full. Each iterator is a consumer of `group`: an
 * item goes to one consumer of a group, and is acknowledged when that consumer asks for the next one
 * (or stops), so an item whose consumer died is redelivered after `claimIdleMs`. `close()` ends every
 * consumer once drained; `fail(err)` makes them throw an error with err's name and message once
 * drained. Unlike a local queue, one consumer stopping early does not cancel the queue for the
 * others. `size` is the backlog last seen by this process. `disconnect()` releases the connection
 * without closing the queue.
 */
export class RedisQueue<T = Part> extends AsyncQueue<T> {
  readonly name: string;
  readonly group: string;
  readonly #url: string;
  readonly #stream: string;
  readonly #state: string;
  readonly #keys: ReturnType<typeof keysOf>;
  readonly #highWaterMark: number;
  readonly #claimIdleMs: number;
  #lease: Promise<Lease> | undefined;
  #ready: Promise<Connection> | undefined;
  #backlog = 0;
  #ended: 'closed' | 'failed' | undefined;
  readonly #puts = new Set<Promise<void>>();
  #ending: Promise<void> | undefined;

  constructor(name: string, options: RedisQueueOptions) {
    super({ highWaterMark: 1 });
    if (typeof options?.redis !== 'string') {
      throw new RedisOptionError(
        'redisQueue: options.redis must be a Redis URL',
        "pass { redis: 'redis://127.0.0.1:6379' }",
      );
    }
    this.name = name;
    this.group = options.group ?? 'default';
    this.#url = options.redis;
    this.#keys = keysOf(options.namespace ?? DEFAULT_NAMESPACE);
    this.#stream = this.#keys.queue(name);
    this.#state = this.#keys.queueState(name);
    this.#highWaterMark = positiveInt(
      'redisQueue',
      'highWaterMark',
      options.highWaterMark,
      DEFAULT_QUEUE_HIGH_WATER_MARK,
    );
    this.#claimIdleMs = positiveInt('redisQueue', 'claimIdleMs', options.claimIdleMs, 30_000);
  }

  override get size(): number {
    return this.#backlog;
  }

  /** The shared connection, with this queue's group created (from the start of the stream). */
  #connection(): Promise<Connection> {
    this.#ready ??= (async () => {
      this.#lease = lease(this.#url);
      const { connection } = await this.#lease;
      await connection.send(['XGROUP', 'CREATE', this.#stream, this.group, '0', 'MKSTREAM']).catch((error: Error) => {
        if (!String(error.message).startsWith('BUSYGROUP')) throw error;
      });
      return connection;
    })();
    return this.#ready;
  }

  override put(item: T): Promise<void> {
    if (this.#ended) throw new QueueClosedError('E_QUEUE_CLOSED');
    const done = this.#put(item);
    this.#puts.add(done);
    const forget = () => this.#puts.delete(done);
    done.then(forget, forget);
    return done;
  }

  async #put(item: T): Promise<void> {
    const connection = await this.#connection();
    const before: Command[] = [];
    const fields = isPart(item)
      ? ['p', JSON.stringify(encodePart(item as Part, this.#keys, before))]
      : ['j', JSON.stringify(item)];
    await Promise.all(before.map((c) => connection.send(c)));
    let wait = 5;
    for (;;) {
      const [status, backlog] = await connection.eval<[number, number]>(
        QUEUE_PUT,
        [this.#stream, this.#state],
        [this.group, String(this.#highWaterMark), ...fields],
      );
      this.#backlog = Number(backlog);
      if (Number(status) === 1) return;
      if (Number(status) === -1) throw new QueueClosedError('E_QUEUE_CLOSED');
      await new Promise((resolve) => setTimeout(resolve, wait));
      wait = Math.min(100, wait * 2);
    }
  }

  override close(): void {
    this.#end({ closed: true });
  }

  override fail(error: unknown): void {
    this.#end({ failed: errorToJSON(error) });
  }

  /** Resolves once `close()`/`fail()` is in Redis (and this queue's connection released). */
  get ended(): Promise<void> {
    return this.#ending ?? Promise.resolve();
  }

  #end(state: State): void {
    if (this.#ended) return;
    this.#ended = 'closed' in state ? 'closed' : 'failed';
    this.#ending = (async () => {
      // Puts already under way land first: consumers drain them before they see the end.
      await Promise.allSettled([...this.#puts]);
      const connection = await this.#connection();
      const ttl = String(CLOSED_TTL_MS);
      await Promise.all([
        connection.send(['SET', this.#state, JSON.stringify(state), 'NX', 'PX', ttl]),
        connection.send(['PEXPIRE', this.#stream, ttl]),
      ]);
      await this.disconnect();
    })();
    this.#ending.catch(() => {});
  }

  /** Releases this queue's connection (consumers hold their own until they end). */
  async disconnect(): Promise<void> {
    const held = this.#lease;
    this.#lease = undefined;
    this.#ready = undefined;
    if (held) await (await held).release();
  }

  override [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return new Consumer<T>(this.#url, this.#stream, this.#state, this.group, this.#keys, this.#claimIdleMs);
  }
}

/** One consumer of a group: reads one item at a time, acknowledging the previous one. */
class Consumer<T> implements AsyncIterableIterator<T> {
  readonly #name = randomUUID();
  #reader: Connection | undefined;
  #lease: Lease | undefined;
  #unacked: string | undefined;
  #finished = false;
  #returned = false;
  #claimedAt = 0;
  #acks = 0;
  /** The blocking read in flight (what `return()` unblocks). */
  #reading: Promise<unknown> | undefined;

  constructor(
    readonly url: string,
    readonly stream: string,
    readonly stateKey: string,
    readonly group: string,
    readonly keys: ReturnType<typeof keysOf>,
    readonly claimIdleMs: number,
  ) {}

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }

  async next(): Promise<IteratorResult<T>> {
    if (this.#finished) return { done: true, value: undefined };
    try {
      if (!this.#reader) {
        this.#lease = await lease(this.url);
        await this.#lease.connection
          .send(['XGROUP', 'CREATE', this.stream, this.group, '0', 'MKSTREAM'])
          .catch((error: Error) => {
            if (!String(error.message).startsWith('BUSYGROUP')) throw error;
          });
        this.#reader = await Connection.open(this.url, 'sluice-queue-consumer');
      }
      const command = this.#lease!.connection;
      this.#ack(command);
      let sawEnd: State | undefined;
      for (;;) {
        if (this.#finished) return { done: true, value: undefined };
        const entry = (await this.#claim(command)) ?? (await this.#read(sawEnd ? undefined : POLL_MS));
        if (entry) {
          this.#unacked = entry[0];
          return { done: false, value: await this.#decode(fieldsOf(entry[1]), command) };
        }
        if (sawEnd) {
          // The end was set after every put landed, and nothing was left to read after it: drained.
          await this.#finish();
          if ('failed' in sawEnd) throw errorFromJSON(sawEnd.failed);
          return { done: true, value: undefined };
        }
        const state = await command.send<string | null>(['GET', this.stateKey]);
        if (state !== null) sawEnd = JSON.parse(state) as State;
      }
    } catch (error) {
      const stopped = this.#returned;
      await this.#finish();
      // return() while this read waited: the read ends empty, not with the teardown's error.
      if (stopped) return { done: true, value: undefined };
      throw error;
    }
  }

  async return(): Promise<IteratorResult<T>> {
    this.#finished = true;
    this.#returned = true;
    if (this.#reader && this.#lease && this.#reading)
      await unblock(this.#lease.connection, this.#reader, this.#reading);
    await this.#finish();
    return { done: true, value: undefined };
  }

  /** Acknowledges the item handed out last (the consumer came back for more, so it is done with it). */
  #ack(command: Connection): void {
    if (this.#unacked === undefined) return;
    const id = this.#unacked;
    this.#unacked = undefined;
    void command.send(['XACK', this.stream, this.group, id]).catch(() => {});
    if (++this.#acks % 256 === 0) void command.eval(TRIM, [this.stream], []).catch(() => {});
  }

  /** Now and then, takes over one item a consumer that went away held longer than claimIdleMs. */
  async #claim(command: Connection): Promise<[string, string[]] | undefined> {
    const now = Date.now();
    if (now - this.#claimedAt < this.claimIdleMs / 2) return undefined;
    this.#claimedAt = now;
    const reply = await command.send<[string, [string, string[]][], string[]]>([
      'XAUTOCLAIM',
      this.stream,
      this.group,
      this.#name,
      String(this.claimIdleMs),
      '0-0',
      'COUNT',
      '1',
    ]);
    return reply[1].find((entry) => entry !== null && Array.isArray(entry[1]));
  }

  async #read(blockMs: number | undefined): Promise<[string, string[]] | undefined> {
    const args = ['XREADGROUP', 'GROUP', this.group, this.#name, 'COUNT', '1'];
    if (blockMs !== undefined) args.push('BLOCK', String(blockMs));
    args.push('STREAMS', this.stream, '>');
    const reading = this.#reader!.send<[string, [string, string[]][]][] | null>(args);
    this.#reading = reading;
    try {
      const reply = await reading;
      return reply?.[0]?.[1][0];
    } finally {
      this.#reading = undefined;
    }
  }

  async #decode(fields: Record<string, string>, command: Connection): Promise<T> {
    if (fields.p !== undefined) return (await decodePart(JSON.parse(fields.p) as WirePart, command, false)) as T;
    return JSON.parse(fields.j ?? 'null') as T;
  }

  async #finish(): Promise<void> {
    this.#finished = true;
    const command = this.#lease?.connection;
    if (command) {
      this.#ack(command);
      try {
        // XGROUP DELCONSUMER discards pending entries: only when this consumer holds none.
        const pending = await command.send<unknown[]>(['XPENDING', this.stream, this.group, '-', '+', '1', this.#name]);
        if (pending.length === 0) await command.send(['XGROUP', 'DELCONSUMER', this.stream, this.group, this.#name]);
      } catch {
        // Redis is gone; nothing to clean.
      }
    }
    const reader = this.#reader;
    this.#reader = undefined;
    await reader?.close();
    const held = this.#lease;
    this.#lease = undefined;
    await held?.release();
  }
}

/**
 * A queue that `enqueue`/`dequeue` share across processes, on a Redis stream (see `RedisQueue`).
 * Items are parts (large payloads in keys of their own) or JSON values.
 */
export function redisQueue<T = Part>(name: string, options: RedisQueueOptions): RedisQueue<T> {
  if (typeof name !== 'string' || name === '') {
    throw new RedisOptionError(`redisQueue: name must be a non-empty string, got ${String(name)}`, 'name the queue');
  }
  return new RedisQueue<T>(name, options);
}
