// The caller process's end of the wire: one output stream per process (read by one blocking loop on a
// connection of its own), the liveness of its runs (keys with a TTL, refreshed here), and the
// routing of each output to the part it belongs to, skipping what was already emitted.

import { randomUUID } from 'node:crypto';
import type { Part } from '@sluice/core';
import { Connection, type Lease, lease, unblock } from './connection.ts';
import { RedisConnectionError, RemoteProcessorError } from './errors.ts';
import { type Keys, keysOf, WORKERS_GROUP } from './keys.ts';
import { type Command, decodePart, fieldsOf, type Message, nextId, partFromWire, type WirePart } from './wire.ts';

/** Outputs read per XREAD. */
const READ_COUNT = 512;
/** A blocking read returns after this long even when nothing came (CLIENT UNBLOCK ends it sooner). */
const BLOCK_MS = 10_000;

const END = Symbol('end');

/** One part sent to the workers: its outputs, in order, as the caller will emit them. */
export class PartCall {
  /** Highest delivery attempt heard from: older attempts (a worker taken for dead) are ignored. */
  attempt = 0;
  /** Outputs emitted (or queued for emission) so far: a redelivered part's first ones are skipped. */
  next = 0;
  done = false;
  readonly #items: (Part | Promise<Part> | typeof END | { error: unknown })[] = [];
  #wake: (() => void) | undefined;
  blobs: string[] = [];

  constructor(
    readonly key: string,
    readonly processor: string,
  ) {}

  push(item: Part | Promise<Part> | typeof END | { error: unknown }): void {
    if (this.done) return;
    if (item === END || (typeof item === 'object' && 'error' in item)) this.done = true;
    if (item instanceof Promise) item.catch(() => {});
    this.#items.push(item);
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  /** The next output; undefined at the end; throws the part's error. */
  async take(): Promise<Part | undefined> {
    while (this.#items.length === 0) await new Promise<void>((resolve) => (this.#wake = resolve));
    const item = this.#items.shift()!;
    if (item === END) return undefined;
    if (typeof item === 'object' && 'error' in item) throw item.error;
    return item;
  }

  /** Ends the call now (the run stopped): a pending `take` returns undefined. */
  end(): void {
    this.done = true;
    this.#items.length = 0;
    this.#items.push(END);
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}

/** The caller side shared by every `distributed` run of this process on one Redis and namespace. */
export class CallerHub {
  readonly id = randomUUID();
  readonly keys: Keys;
  readonly outputs: string;
  readonly calls = new Map<string, PartCall>();
  /** Run keys whose TTL this hub refreshes. */
  readonly runs = new Set<string>();
  users = 0;
  #lease!: Lease;
  #reader!: Connection;
  #lastId = '0-0';
  #loop: Promise<void> | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;
  #closing = false;
  #groups = new Set<string>();
  #failure: RedisConnectionError | undefined;

  private constructor(
    readonly url: string,
    readonly namespace: string,
    readonly ttlMs: number,
  ) {
    this.keys = keysOf(namespace);
    this.outputs = this.keys.outputs(this.id);
  }

  get connection(): Connection {
    return this.#lease.connection;
  }

  static async open(url: string, namespace: string, ttlMs: number): Promise<CallerHub> {
    const hub = new CallerHub(url, namespace, ttlMs);
    hub.#lease = await lease(url);
    try {
      hub.#reader = await Connection.open(url, 'sluice-caller-reader');
    } catch (error) {
      await hub.#lease.release();
      throw error;
    }
    // The output stream exists from now on, so workers can add to it with NOMKSTREAM (a dead
    // caller's stream expires and is never re-created by a late worker).
    hub.#lastId = await hub.connection.send<string>(['XADD', hub.outputs, '*', 'hello', '1']);
    await hub.connection.send(['PEXPIRE', hub.outputs, String(ttlMs)]);
    hub.#timer = setInterval(() => hub.#refresh(), Math.max(10, Math.floor(ttlMs / 3)));
    hub.#loop = hub.#read();
    return hub;
  }

  /** Makes sure the consumer group of `processor`'s stream exists (sent once, ahead of the first part). */
  ensureGroup(processor: string, commands: Command[]): void {
    if (this.#groups.has(processor)) return;
    this.#groups.add(processor);
    commands.push(['XGROUP', 'CREATE', this.keys.parts(processor), WORKERS_GROUP, '0', 'MKSTREAM']);
  }

  /** Sends commands in order on the shared connection (one write); XGROUP CREATE may find the group there. */
  async send(commands: readonly Command[]): Promise<unknown[]> {
    if (this.#failure) throw this.#failure;
    return Promise.all(
      commands.map((c) =>
        this.connection.send(c).catch((error: Error) => {
          if (c[0] === 'XGROUP' && String(error.message).startsWith('BUSYGROUP')) return 'OK';
          throw error;
        }),
      ),
    );
  }

  #refresh(): void {
    const ttl = String(this.ttlMs);
    const commands: Command[] = [['PEXPIRE', this.outputs, ttl]];
    for (const run of this.runs) commands.push(['PEXPIRE', run, ttl]);
    void this.send(commands).catch(() => {});
  }

  async #read(): Promise<void> {
    try {
      while (!this.#closing) {
        const reply = await this.#reader.send<[string, [string, string[]][]][] | null>([
          'XREAD',
          'COUNT',
          String(READ_COUNT),
          'BLOCK',
          String(BLOCK_MS),
          'STREAMS',
          this.outputs,
          this.#lastId,
        ]);
        if (!reply) continue;
        for (const [id, flat] of reply[0]![1]) {
          this.#lastId = id;
          const fields = fieldsOf(flat);
          if (fields.m !== undefined) for (const message of JSON.parse(fields.m) as Message[]) this.#route(message);
        }
        // What was read is consumed: trim it (MINID, never MAXLEN: the reader is this loop alone).
        void this.connection.send(['XTRIM', this.outputs, 'MINID', nextId(this.#lastId)]).catch(() => {});
      }
    } catch (error) {
      if (this.#closing) return;
      this.#failure = new RedisConnectionError(`the output stream reader lost Redis: ${(error as Error).message}`, {
        cause: error,
      });
      for (const call of this.calls.values()) call.push({ error: this.#failure });
    }
  }

  /** Routes one worker message to its part, skipping stale attempts and outputs already emitted. */
  #route(message: Message): void {
    const call = this.calls.get(`${message.r}:${message.i}`);
    if (!call || call.done || message.a < call.attempt) {
      if (message.t === 'p') this.#drop(message.p);
      return;
    }
    call.attempt = message.a;
    if (message.t === 'p') {
      if (message.s < call.next) {
        this.#drop(message.p);
        return;
      }
      call.next = message.s + 1;
      if (message.p.b !== undefined) {
        call.push(decodePart(message.p, this.connection, true));
        return;
      }
      try {
        call.push(partFromWire(message.p.j));
      } catch (error) {
        call.push({ error });
      }
    } else if (message.t === 'e') {
      call.push(END);
    } else {
      call.push({ error: RemoteProcessorError.fromJSON(call.processor, message.e) });
    }
  }

  #drop(wire: WirePart): void {
    if (wire.b !== undefined) void this.connection.send(['DEL', wire.b]).catch(() => {});
  }

  get closing(): boolean {
    return this.#closing;
  }

  async close(): Promise<void> {
    this.#closing = true;
    clearInterval(this.#timer);
    await unblock(this.connection, this.#reader, this.#loop!);
    await this.#reader.close();
    await this.connection.send(['DEL', this.outputs]).catch(() => {});
    await this.#lease.release();
  }
}

const hubs = new Map<string, Promise<CallerHub>>();

/** Takes a reference to this process's hub for (url, namespace, ttl), opening it on first use. */
export async function acquireHub(url: string, namespace: string, ttlMs: number): Promise<CallerHub> {
  const key = `${url}\n${namespace}\n${ttlMs}`;
  for (;;) {
    let pending = hubs.get(key);
    if (!pending) {
      pending = CallerHub.open(url, namespace, ttlMs);
      hubs.set(key, pending);
      pending.catch(() => hubs.delete(key));
    }
    const hub = await pending;
    // The last user may have released it while this one waited: open a fresh one then.
    if (hub.closing) continue;
    hub.users++;
    return hub;
  }
}

/** Drops a reference; the last one closes the hub. */
export async function releaseHub(hub: CallerHub): Promise<void> {
  if (--hub.users > 0) return;
  const key = `${hub.url}\n${hub.namespace}\n${hub.ttlMs}`;
  hubs.delete(key);
  await hub.close();
}
