// The caller process's end of the wire: one output stream per process (read by one blocking loop on a
// connection of its own), the liveness of its runs (keys with a TTL, refreshed here), and the
// routing of each output to the part it belongs to, skipping what was already emitted.

import type { Part } from '@sluice/core';
import { Connection, type Lease, lease, unblock } from './connection.ts';
import { RedisConnectionError, RemoteProcessorError } from './errors.ts';
import { type Keys, keysOf, newId, WORKERS_GROUP } from './keys.ts';
import { SUBMIT } from './scripts.ts';
import {
  blobKeyOf,
  type Command,
  decodePart,
  isBlob,
  type Message,
  nextId,
  partFromWire,
  type WirePart,
} from './wire.ts';

/** Outputs read per XREAD. */
const READ_COUNT = 512;
/** A blocking read returns after this long even when nothing came (CLIENT UNBLOCK ends it sooner). */
const BLOCK_MS = 10_000;

/** Output entries read between two trims of the output stream (the refresh timer trims too). */
const TRIM_EVERY = 256;

const END = Symbol('end');

type Item = Part | Promise<Part> | typeof END | { error: unknown };

/**
 * One part sent to the workers, and the async iterator of its outputs, in order, as the caller
 * emits them (the part processor's result: no generator per part). Its end (the last output, an
 * error, or `return()` when the run stops) calls `onClose` once.
 */
export class PartCall implements AsyncIterableIterator<Part> {
  /** Highest delivery attempt heard from: older attempts (a worker taken for dead) are ignored. */
  attempt = 0;
  /** Outputs emitted (or queued for emission) so far: a redelivered part's first ones are skipped. */
  emitted = 0;
  /** No more items are taken (the end, an error, or the run stopped). */
  done = false;
  readonly #items: Item[] = [];
  #head = 0;
  #wake: (() => void) | undefined;
  /** The pending `next` while no item is here. */
  #waiting: Promise<IteratorResult<Part>> | undefined;
  #closed: Promise<void> | undefined;
  blobs: string[] = [];

  constructor(
    readonly key: string,
    readonly processor: string,
    readonly onClose: (call: PartCall) => Promise<void> | void,
  ) {}

  push(item: Item): void {
    if (this.done) return;
    if (item === END || (typeof item === 'object' && 'error' in item)) this.done = true;
    if (item instanceof Promise) item.catch(() => {});
    this.#items.push(item);
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<Part>> {
    if (this.#head < this.#items.length) return this.#take();
    if (this.#closed) return Promise.resolve({ done: true, value: undefined });
    // Nothing yet: one promise, settled by the push that brings the next item (no async frame).
    if (this.#waiting) return this.#waiting.then(() => this.next());
    this.#waiting = new Promise<IteratorResult<Part>>((resolve) => {
      this.#wake = () => {
        this.#waiting = undefined;
        const item = this.#items[this.#head];
        if (item !== undefined && item !== END && !(item instanceof Promise) && !('error' in item)) {
          this.#advance();
          resolve({ done: false, value: item });
        } else resolve(this.#head < this.#items.length ? this.#take() : this.next());
      };
    });
    return this.#waiting;
  }

  /** The head item as the result of `next` (there is one). */
  #take(): Promise<IteratorResult<Part>> {
    const item = this.#items[this.#head]!;
    this.#advance();
    if (item === END) return this.#close().then(() => ({ done: true, value: undefined }));
    if (item instanceof Promise) {
      return item.then(
        (value: Part) => ({ done: false, value }),
        (error: unknown) =>
          this.#close().then(() => {
            throw error;
          }),
      );
    }
    if ('error' in item) {
      return this.#close().then(() => {
        throw item.error;
      });
    }
    return Promise.resolve({ done: false, value: item });
  }

  /** Takes the head item (its slot is cleared; the taken prefix is dropped now and then). */
  #advance(): void {
    this.#items[this.#head++] = END;
    if (this.#head > 64 && this.#head * 2 > this.#items.length) {
      this.#items.splice(0, this.#head);
      this.#head = 0;
    }
  }

  /** The consumer stopped early (or the run stopped): a pending `next` ends, `onClose` runs. */
  async return(): Promise<IteratorResult<Part>> {
    this.end();
    await this.#close();
    return { done: true, value: undefined };
  }

  /** Ends the call now (the run stopped): a pending `next` returns done. */
  end(): void {
    this.done = true;
    this.#items.length = 0;
    this.#head = 0;
    this.#items.push(END);
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  #close(): Promise<void> {
    this.done = true;
    this.#closed ??= Promise.resolve(this.onClose(this));
    return this.#closed;
  }
}

/** Parts of one run sent in one SUBMIT call, with the commands that must reach Redis before them. */
export interface Submission {
  /** The run key, the consumer group, large payloads: sent first, in order. */
  readonly before: Command[];
  readonly stream: string;
  /** The run (field r of every entry; the rest of what its parts share is in the run key). */
  readonly head: readonly string[];
  /** Index of the first part (the others follow it). */
  readonly first: number;
  /** The wire form (JSON) of each part, in index order. */
  readonly wires: string[];
  readonly calls: PartCall[];
  /** Set when the hub has sent it (later parts go into a new one). */
  sent: boolean;
  /** Set when its run stopped first: its parts are not sent. */
  cancelled: boolean;
}

/** The caller side shared by every `distributed` run of this process on one Redis and namespace. */
export class CallerHub {
  readonly id = newId();
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
  #submissions: Submission[] = [];
  /** Output entries read since the last trim of the output stream. */
  #readSinceTrim = 0;

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

  /**
   * Queues a submission; all those of one event-loop turn go out together (one write), each run's
   * parts in one SUBMIT call. A failed send fails the parts of the submission.
   */
  submit(submission: Submission): void {
    if (this.#failure) {
      submission.sent = true;
      for (const call of submission.calls) call.push({ error: this.#failure });
      return;
    }
    if (this.#submissions.length === 0) setImmediate(() => this.#flushSubmissions());
    this.#submissions.push(submission);
  }

  #flushSubmissions(): void {
    const submissions = this.#submissions;
    this.#submissions = [];
    for (const s of submissions) {
      s.sent = true;
      if (s.cancelled) {
        // Its run stopped first: only the consumer group is still created (other runs count on it).
        const groups = s.before.filter((c) => c[0] === 'XGROUP');
        if (groups.length > 0) void this.send(groups).catch(() => {});
        continue;
      }
      const fail = (error: unknown) => {
        for (const call of s.calls) call.push({ error: this.#failure ?? error });
      };
      if (s.before.length > 0) void this.send(s.before).catch(fail);
      this.connection.eval(SUBMIT, [s.stream], [...s.head, String(s.first), s.wires.join('\n')]).catch(fail);
    }
  }

  #refresh(): void {
    const ttl = String(this.ttlMs);
    const commands: Command[] = [['PEXPIRE', this.outputs, ttl]];
    for (const run of this.runs) commands.push(['PEXPIRE', run, ttl]);
    void this.send(commands).catch(() => {});
    if (this.#readSinceTrim > 0) this.#trim();
  }

  /** What was read is consumed: trim it (MINID, never MAXLEN: the reader is the read loop alone). */
  #trim(): void {
    this.#readSinceTrim = 0;
    void this.connection.send(['XTRIM', this.outputs, 'MINID', nextId(this.#lastId)]).catch(() => {});
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
        const entries = reply[0]![1];
        for (const [id, flat] of entries) {
          this.#lastId = id;
          // Workers write one field, m: a JSON array of messages.
          if (flat[0] === 'm') for (const message of JSON.parse(flat[1]!) as Message[]) this.#route(message);
        }
        this.#readSinceTrim += entries.length;
        if (this.#readSinceTrim >= TRIM_EVERY) this.#trim();
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
    const [t, r, i, a] = message;
    const call = this.calls.get(`${r}:${i}`);
    if (!call || call.done || a < call.attempt) {
      if (t === 'p') this.#drop(message[5]);
      return;
    }
    call.attempt = a;
    if (t === 'p') {
      const wire = message[5];
      if (message[4] < call.emitted) this.#drop(wire);
      else {
        call.emitted = message[4] + 1;
        if (isBlob(wire)) call.push(decodePart(wire, this.connection, true));
        else {
          try {
            call.push(partFromWire(wire));
          } catch (error) {
            call.push({ error });
            return;
          }
        }
      }
      // The part's last output carries its end (a redelivery's skipped last output too).
      if (message[6] === 1) call.push(END);
    } else if (t === 'e') {
      call.push(END);
    } else {
      call.push({ error: RemoteProcessorError.fromJSON(call.processor, message[4]) });
    }
  }

  #drop(wire: WirePart): void {
    const key = blobKeyOf(wire);
    if (key !== undefined) void this.connection.send(['DEL', key]).catch(() => {});
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
