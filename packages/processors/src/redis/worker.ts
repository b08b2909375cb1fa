// serve(): a worker process's loop. It takes parts of live runs from the processors' streams (a
// consumer group per stream: each part goes to one worker), runs them through the local part
// processor, and sends their outputs to the caller's output stream, batched per event-loop turn.
// Its parts in flight get heartbeats; parts of dead workers are claimed after their claimIdleMs.

import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { type Part, type PartProcessor, Stopper } from '@sluice/core';
import { errorToJSON } from '@sluice/streams';
import { DEFAULT_CLAIM_IDLE_MS } from './caller.ts';
import { Connection, type Lease, lease, unblock } from './connection.ts';
import { type DirectRun, directRunOf, PART_ENDED, probeRunClass } from './direct.ts';
import { positiveInt, RedisOptionError } from './errors.ts';
import { DEFAULT_NAMESPACE, type Keys, keysOf, runPrefix, WORKERS_GROUP } from './keys.ts';
import { CLAIM, HEARTBEAT, TAKE, TRIM } from './scripts.ts';
import {
  type Command,
  decodePart,
  encodePart,
  fieldsOf,
  isBlob,
  type Message,
  type OutputMessage,
  partFromWire,
  type WirePart,
} from './wire.ts';

/** Options of `serve`. */
export interface ServeOptions {
  /** Redis URL, e.g. `redis://127.0.0.1:6379`. */
  redis: string;
  /** Parts this worker processes at once, over all its processors. Default 16. */
  concurrency?: number;
  /** Prefix of every key; callers and workers must agree. Default 'sluice'. */
  namespace?: string;
  /**
   * How often this worker looks for parts of dead workers (every claimIdleMs / 4); a part is taken
   * over once idle for its caller's claimIdleMs. Default 30,000 ms.
   */
  claimIdleMs?: number;
  /** This worker's consumer name (unique per worker, no spaces). Default: host, pid and a random suffix. */
  name?: string;
}

/** A running worker. */
export interface RemoteWorker extends AsyncDisposable {
  /** Its consumer name in the processors' groups. */
  readonly name: string;
  /** Parts being processed now. */
  readonly active: number;
  /** Parts finished (ended, failed or stopped) since it started. */
  readonly completed: number;
  /** Stops taking parts, finishes the parts in flight (and any taken ahead), then leaves (its consumer is deleted when it holds no part). */
  close(): Promise<void>;
}

export const DEFAULT_WORKER_CONCURRENCY = 16;
/** A blocking read returns after this long even when nothing came (CLIENT UNBLOCK ends it sooner). */
const BLOCK_MS = 10_000;
/** Acknowledgements between two trims of a stream (a timer trims too). */
const TRIM_EVERY = 256;
/** Weight of the newest sample in the running mean of a processor's part durations. */
const EWMA = 0.1;
/** Takes whose round trips are remembered: the shortest of them is the round trip to Redis. */
const RTT_SAMPLES = 32;
/** How long a stopped run is remembered (its parts are acknowledged, never started). */
const STOPPED_MS = 10_000;

/** A part taken by this worker: where it came from, its signal, and the outputs sent so far. */
class Job {
  /** The part's ctx.signal (made when first read). */
  readonly stop = new Stopper();
  /** Another worker took it over (missed heartbeats): no ack, no more messages. */
  lost = false;
  /** Outputs sent so far (the next one's sequence number). */
  seq = 0;
  /** When it started (performance.now()), for the running mean of part durations. */
  started = 0;
  /** The part's latest output while it may still be in the outbox: the end rides on it (z: 1). */
  last: OutputMessage | undefined = undefined;
  /** The worker's flush count when `last` was queued. */
  lastFlush = -1;

  constructor(
    readonly stream: number,
    readonly id: string,
    /** Fields r, i and p of its entry: run, part index, wire part (JSON). */
    readonly run: string,
    readonly index: number,
    readonly wire: string,
    /** The caller whose output stream gets its messages (from the run key). */
    readonly caller: string,
    readonly attempt: number,
    /** Queues an output message of this part (the worker's). */
    readonly output: (job: Job, p: Part) => void,
  ) {}

  /** One output of the part (nothing once it was stopped or lost). */
  emit(p: Part): void {
    if (!this.lost && !this.stop.aborted) this.output(this, p);
  }
}

/**
 * Parts a worker takes ahead of its free slots, from the running mean of its parts' duration
 * (`partMs`) and the round trip of a take to Redis (`takeMs`, the shortest of the recent ones: a
 * reply read late because the worker was busy says nothing about Redis): as many as free up
 * during four round trips (at most `concurrency`), so short parts start as soon as a slot frees
 * rather than a round trip later. Long parts (an LLM call, much longer than a round trip) get
 * none, so no part waits in a busy worker while another has a free slot. None before the first
 * part has finished.
 */
export function prefetchOf(concurrency: number, partMs: number, takeMs: number): number {
  if (!(partMs > 0) || !(takeMs > 0)) return 0;
  return Math.min(concurrency, Math.round((4 * concurrency * takeMs) / partMs));
}

type Entry = readonly [number, string, string[]];

/** The run field (r) of a part entry's flat field list; '' when missing. */
function runOfEntry(flat: readonly string[]): string {
  if (flat[0] === 'r') return flat[1]!;
  for (let k = 0; k + 1 < flat.length; k += 2) if (flat[k] === 'r') return flat[k + 1]!;
  return '';
}

/** What TAKE's second reply lists ([run, run key value or null, ...]) as a map of the live runs. */
function liveRuns(flat: readonly (string | null)[]): Map<string, string> {
  const live = new Map<string, string>();
  for (let k = 0; k + 1 < flat.length; k += 2) if (typeof flat[k + 1] === 'string') live.set(flat[k]!, flat[k + 1]!);
  return live;
}

class Worker implements RemoteWorker {
  readonly name: string;
  active = 0;
  completed = 0;
  readonly #names: string[];
  readonly #processors: PartProcessor[];
  /** Per processor: its direct runner (one part member: no run per part), if it has one. */
  #direct: (DirectRun | undefined)[] = [];
  readonly #streams: string[];
  readonly #keys: Keys;
  readonly #prefix: string;
  readonly #concurrency: number;
  readonly #claimIdleMs: number;
  #lease!: Lease;
  #reader!: Connection;
  #subscriber!: Connection;
  readonly #jobs = new Set<Job>();
  readonly #backlog: Job[] = [];
  #closing = false;
  #closed: Promise<void> | undefined;
  #readLoop: Promise<void> | undefined;
  #slotFreed: (() => void) | undefined;
  #idle: (() => void) | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #ticking: Promise<void> | undefined;
  /** Smallest claimIdleMs of any part seen: heartbeats and claims run at a quarter of it. */
  #minClaimMs: number;
  #acksSinceTrim = 0;
  // Outgoing batch, sent once per event-loop turn.
  #outbox = new Map<string, Message[]>();
  #before: Command[] = [];
  #acks = new Map<number, string[]>();
  #flushScheduled = false;
  /** Flushes so far: a message queued since the last one is still in the outbox. */
  #flushes = 0;
  #flushing = new Set<Promise<unknown>>();
  /** The read loop waiting for the flush due this turn (its take then shares the flush's write). */
  #flushed: (() => void) | undefined;
  /**
   * Per processor, the running mean (ms) of its parts' duration (0: none yet); the longest of them
   * sets the prefetch, so a processor of long parts is never taken ahead of.
   */
  #partMs: number[] = [];
  /** The longest of `#partMs`. */
  #longestPartMs = 0;
  /** Round trips (ms) of the recent takes (a ring), and the shortest of them. */
  readonly #rtts = new Float64Array(RTT_SAMPLES);
  #rttCount = 0;
  #takeMs = 0;
  /** Runs stopped lately (run -> when): a part of one read after its stop message never starts. */
  readonly #stopped = new Map<string, number>();

  constructor(processors: Record<string, PartProcessor>, options: ServeOptions) {
    this.#names = Object.keys(processors);
    this.#processors = this.#names.map((n) => processors[n]!);
    this.#keys = keysOf(options.namespace ?? DEFAULT_NAMESPACE);
    this.#prefix = runPrefix(options.namespace ?? DEFAULT_NAMESPACE);
    this.#streams = this.#names.map((n) => this.#keys.parts(n));
    this.#concurrency = positiveInt('serve', 'concurrency', options.concurrency, DEFAULT_WORKER_CONCURRENCY);
    this.#claimIdleMs = positiveInt('serve', 'claimIdleMs', options.claimIdleMs, DEFAULT_CLAIM_IDLE_MS);
    this.#minClaimMs = this.#claimIdleMs;
    this.name = options.name ?? `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  }

  get #connection(): Connection {
    return this.#lease.connection;
  }

  async start(url: string): Promise<void> {
    await probeRunClass();
    this.#direct = this.#processors.map(directRunOf);
    this.#lease = await lease(url);
    const opened: Connection[] = [];
    try {
      this.#reader = await Connection.open(url, `sluice-worker-reader-${this.name}`);
      opened.push(this.#reader);
      this.#subscriber = await Connection.open(url, `sluice-worker-stops-${this.name}`);
      opened.push(this.#subscriber);
      await this.#subscriber.subscribe(this.#keys.stopChannel, (run) => this.#stopRun(run));
      await Promise.all(
        this.#streams.map((stream) =>
          this.#connection.send(['XGROUP', 'CREATE', stream, WORKERS_GROUP, '0', 'MKSTREAM']).catch((error: Error) => {
            if (!String(error.message).startsWith('BUSYGROUP')) throw error;
          }),
        ),
      );
    } catch (error) {
      for (const c of opened) await c.close();
      await this.#lease.release();
      throw error;
    }
    this.#readLoop = this.#read();
    this.#schedule();
  }

  // ---- taking parts ----

  get #free(): number {
    return this.#concurrency - this.active - this.#backlog.length;
  }

  /** Parts the read loop may take now: the free slots and the prefetch. */
  get #wanted(): number {
    return this.#free + prefetchOf(this.#concurrency, this.#longestPartMs, this.#takeMs);
  }

  async #read(): Promise<void> {
    // Parts from a blocking read, not started until TAKE has checked their runs (with the next take).
    let unchecked: Entry[] = [];
    try {
      while (!this.#closing || unchecked.length > 0) {
        if ((this.#closing ? 0 : this.#wanted) <= 0 && unchecked.length === 0) {
          await new Promise<void>((resolve) => (this.#slotFreed = resolve));
          continue;
        }
        // A flush is due this turn (a part just ended): take with it, in the same write.
        if (this.#flushScheduled) await new Promise<void>((resolve) => (this.#flushed = resolve));
        const wanted = this.#closing ? 0 : this.#wanted;
        const runs = unchecked.length > 0 ? [...new Set(unchecked.map(([, , flat]) => runOfEntry(flat)))] : [];
        const sent = performance.now();
        const [taken, looked] = await this.#connection.eval<[(number | [string, string[]][])[], (string | null)[]]>(
          TAKE,
          this.#streams,
          [WORKERS_GROUP, this.name, String(Math.max(0, wanted - unchecked.length)), this.#prefix, ...runs],
        );
        this.#sampleRoundTrip(performance.now() - sent);
        const live = liveRuns(looked);
        // A part of a stopped run never starts: it is only acknowledged.
        for (const [k, id, flat] of unchecked) this.#take(k - 1, id, flat, live);
        unchecked = [];
        let count = 0;
        for (let j = 0; j + 1 < taken.length; j += 2) {
          const k = Number(taken[j]) - 1;
          for (const [id, flat] of taken[j + 1] as [string, string[]][]) {
            this.#take(k, id, flat, live);
            count++;
          }
        }
        if (this.#acks.size > 0) this.#scheduleFlush();
        if (count === 0 && !this.#closing && this.#wanted > 0) unchecked = await this.#blockingRead(this.#wanted);
      }
    } catch (error) {
      if (!this.#closing) {
        // Redis went away for good: stop taking parts; parts in flight finish or are redelivered.
        this.#closing = true;
        process.emitWarning(`sluice serve: stopped reading parts: ${(error as Error).message}`);
      }
    }
  }

  #sampleRoundTrip(ms: number): void {
    this.#rtts[this.#rttCount++ % RTT_SAMPLES] = ms;
    let shortest = ms;
    for (let k = Math.min(this.#rttCount, RTT_SAMPLES) - 1; k >= 0; k--) shortest = Math.min(shortest, this.#rtts[k]!);
    this.#takeMs = shortest;
  }

  #samplePart(stream: number, ms: number): void {
    const mean = this.#partMs[stream] ?? 0;
    this.#partMs[stream] = mean === 0 ? ms : mean + EWMA * (ms - mean);
    let longest = 0;
    for (const m of this.#partMs) if (m !== undefined && m > longest) longest = m;
    this.#longestPartMs = longest;
  }

  /** Waits for new parts (connection of its own, ended by CLIENT UNBLOCK); TAKE then checks their runs. */
  async #blockingRead(free: number): Promise<Entry[]> {
    const reply = await this.#reader.send<[string, [string, string[]][]][] | null>([
      'XREADGROUP',
      'GROUP',
      WORKERS_GROUP,
      this.name,
      'COUNT',
      String(free),
      'BLOCK',
      String(BLOCK_MS),
      'STREAMS',
      ...this.#streams,
      ...this.#streams.map(() => '>'),
    ]);
    if (!reply) return [];
    const entries: Entry[] = [];
    for (const [stream, items] of reply) {
      const k = this.#streams.indexOf(stream) + 1;
      for (const [id, flat] of items) entries.push([k, id, flat]);
    }
    return entries;
  }

  /** Starts (or queues) a part read from stream `stream` when its run is live; else acknowledges it. */
  #take(stream: number, id: string, flat: string[], live: Map<string, string>): void {
    const run = runOfEntry(flat);
    const info = live.get(run);
    // Its stop message may arrive before the reply that brought it (another connection).
    if (info === undefined || this.#stopped.has(run)) this.#queueAck(stream, id);
    else this.#accept(stream, id, flat, 1, info);
  }

  /** Takes on a part; `info` is its run key's value, "<caller> <claimIdleMs> <maxDeliveries>". */
  #accept(stream: number, id: string, flat: string[], attempt: number, info: string): void {
    const [caller = '', ms] = info.split(' ');
    const c = Number(ms);
    if (c > 0 && c < this.#minClaimMs) {
      this.#minClaimMs = c;
      this.#schedule();
    }
    // Entries are written r, i, p (any other layout is read by name).
    let run: string | undefined;
    let index: string | undefined;
    let wire: string | undefined;
    if (flat[0] === 'r' && flat[2] === 'i' && flat[4] === 'p') [, run, , index, , wire] = flat;
    else ({ r: run, i: index, p: wire } = fieldsOf(flat));
    const job = new Job(stream, id, run ?? '', Number(index), wire ?? '', caller, attempt, this.#output);
    this.#jobs.add(job);
    if (this.active < this.#concurrency) this.#start(job);
    else this.#backlog.push(job);
  }

  #start(job: Job): void {
    this.active++;
    job.started = performance.now();
    void this.#run(job);
  }

  /** Queues output `p` of `job` (its sequence number, and the end riding on it if it is the last). */
  readonly #output = (job: Job, p: Part): void => {
    const wire = encodePart(p, this.#keys, this.#before);
    const message: OutputMessage = ['p', job.run, job.index, job.attempt, job.seq++, wire];
    job.last = message;
    job.lastFlush = this.#flushes;
    this.#send(job.caller, message);
  };

  async #run(job: Job): Promise<void> {
    const processor = this.#processors[job.stream]!;
    const o = job.caller;
    const { run, index, attempt } = job;
    const stop = job.stop;
    try {
      const wire = JSON.parse(job.wire) as WirePart;
      const input = isBlob(wire) ? await decodePart(wire, this.#connection, false) : partFromWire(wire);
      const direct = this.#direct[job.stream];
      if (direct) await direct(input, stop, job);
      else {
        for await (const p of processor([input], { signal: stop.signal })) {
          if (job.lost) break;
          job.emit(p);
        }
      }
      if (!stop.aborted && !job.lost) {
        const last = job.last;
        if (last && job.lastFlush === this.#flushes) last[6] = 1;
        else this.#send(o, ['e', run, index, attempt]);
      }
    } catch (error) {
      if (!stop.aborted && !job.lost) this.#send(o, ['x', run, index, attempt, errorToJSON(error)]);
    } finally {
      if (!stop.aborted && !job.lost) {
        // A part that ran its course: a sample of how long parts take here.
        this.#samplePart(job.stream, performance.now() - job.started);
      }
      // A direct part's ctx.signal aborts once it is done, as the signal of a run does at its end.
      stop.abort(PART_ENDED);
      if (!job.lost) this.#queueAck(job.stream, job.id);
      this.#scheduleFlush();
      this.#jobs.delete(job);
      this.active--;
      this.completed++;
      const next = this.#backlog.shift();
      if (next) this.#start(next);
      // A slot freed, or a prefetched part started: the read loop may take more.
      const wake = this.#slotFreed;
      this.#slotFreed = undefined;
      wake?.();
      if (this.#jobs.size === 0) {
        const idle = this.#idle;
        this.#idle = undefined;
        idle?.();
      }
    }
  }

  /** A run stopped (its caller broke, aborted or failed): abort its parts here. */
  #stopRun(run: string): void {
    this.#stopped.set(run, performance.now());
    for (const job of this.#jobs) if (job.run === run) this.#abort(job, false);
  }

  #abort(job: Job, lost: boolean): void {
    const queued = this.#backlog.indexOf(job);
    if (queued >= 0) {
      // Never started: just let it go.
      this.#backlog.splice(queued, 1);
      this.#jobs.delete(job);
      if (!lost) this.#queueAck(job.stream, job.id);
      this.#scheduleFlush();
      // Room to take another.
      const wake = this.#slotFreed;
      this.#slotFreed = undefined;
      wake?.();
      return;
    }
    job.lost ||= lost;
    job.stop.abort(new DOMException('The part was stopped by its caller', 'AbortError'));
  }

  // ---- sending ----

  #send(caller: string, message: Message): void {
    let list = this.#outbox.get(caller);
    if (!list) {
      list = [];
      this.#outbox.set(caller, list);
    }
    list.push(message);
    this.#scheduleFlush();
  }

  #queueAck(stream: number, id: string): void {
    let ids = this.#acks.get(stream);
    if (!ids) {
      ids = [];
      this.#acks.set(stream, ids);
    }
    ids.push(id);
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => this.#flush());
  }

  /** Payloads, then each caller's messages in one entry, then the acknowledgements: one write. */
  #flush(): void {
    this.#flushScheduled = false;
    this.#flushes++;
    const commands: Command[] = this.#before;
    this.#before = [];
    for (const [caller, messages] of this.#outbox) {
      commands.push(['XADD', this.#keys.outputs(caller), 'NOMKSTREAM', '*', 'm', JSON.stringify(messages)]);
    }
    this.#outbox.clear();
    let acked = 0;
    for (const [stream, ids] of this.#acks) {
      commands.push(['XACK', this.#streams[stream]!, WORKERS_GROUP, ...ids]);
      acked += ids.length;
    }
    this.#acks.clear();
    const flushed = this.#flushed;
    this.#flushed = undefined;
    // After the commands below are queued (in this turn): the read loop's take follows them.
    if (flushed) queueMicrotask(flushed);
    if (commands.length === 0) return;
    // A failed write loses nothing: an unacknowledged part is redelivered.
    const sent = Promise.all(commands.map((c) => this.#connection.send(c))).catch(() => {});
    this.#flushing.add(sent);
    void sent.then(() => this.#flushing.delete(sent));
    this.#acksSinceTrim += acked;
    if (this.#acksSinceTrim >= TRIM_EVERY) {
      this.#acksSinceTrim = 0;
      void this.#trim();
    }
  }

  async #trim(): Promise<void> {
    await Promise.all(this.#streams.map((s) => this.#connection.eval(TRIM, [s], []))).catch(() => {});
  }

  // ---- heartbeats, claims, trims ----

  #schedule(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    if (this.#closed && this.#jobs.size === 0) return;
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined;
        this.#ticking = this.#tick().finally(() => {
          this.#ticking = undefined;
          if (this.#timer === undefined) this.#schedule();
        });
      },
      Math.max(10, Math.floor(this.#minClaimMs / 4)),
    );
  }

  async #tick(): Promise<void> {
    // A stop message that arrived more than a few round trips ago has nothing left to race with.
    const old = performance.now() - STOPPED_MS;
    for (const [run, at] of this.#stopped) if (at < old) this.#stopped.delete(run);
    try {
      const jobs = [...this.#jobs];
      if (jobs.length > 0) {
        const args = [WORKERS_GROUP, this.name, this.#prefix];
        for (const job of jobs) args.push(job.id, job.run);
        const statuses = await this.#connection.eval<number[]>(
          HEARTBEAT,
          jobs.map((j) => this.#streams[j.stream]!),
          args,
        );
        statuses.forEach((status, n) => {
          if (Number(status) === 1) this.#abort(jobs[n]!, true);
          else if (Number(status) === 2) this.#abort(jobs[n]!, false);
        });
      }
      if (!this.#closing && this.#free > 0) {
        const keys = this.#names.flatMap((n) => [this.#keys.parts(n), this.#keys.dead(n)]);
        const claimed = await this.#connection.eval<[number, string, string[], number, string][]>(CLAIM, keys, [
          WORKERS_GROUP,
          this.name,
          this.#prefix,
          String(this.#free),
          `${this.#keys.outputs('').slice(0, -':out'.length)}`,
        ]);
        for (const [k, id, flat, attempt, info] of claimed) {
          if (this.#stopped.has(runOfEntry(flat))) this.#queueAck(Number(k) - 1, id);
          else this.#accept(Number(k) - 1, id, flat, Number(attempt), info);
        }
        if (this.#acks.size > 0) this.#scheduleFlush();
      }
      if (this.#acksSinceTrim > 0) {
        this.#acksSinceTrim = 0;
        await this.#trim();
      }
    } catch {
      // A missed tick is retried at the next one; a part whose heartbeat is late stays ours unless claimed.
    }
  }

  // ---- leaving ----

  close(): Promise<void> {
    this.#closed ??= this.#leave();
    return this.#closed;
  }

  async #leave(): Promise<void> {
    this.#closing = true;
    const wake = this.#slotFreed;
    this.#slotFreed = undefined;
    wake?.();
    await unblock(this.#connection, this.#reader, this.#readLoop!);
    // Parts in flight (and those already taken) finish; heartbeats go on meanwhile.
    if (this.#jobs.size > 0) await new Promise<void>((resolve) => (this.#idle = resolve));
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#ticking;
    this.#flush();
    await Promise.all(this.#flushing);
    await this.#trim();
    // XGROUP DELCONSUMER discards a consumer's pending entries: delete it only when it holds none.
    for (const stream of this.#streams) {
      try {
        const pending = await this.#connection.send<unknown[]>([
          'XPENDING',
          stream,
          WORKERS_GROUP,
          '-',
          '+',
          '1',
          this.name,
        ]);
        if (pending.length === 0)
          await this.#connection.send(['XGROUP', 'DELCONSUMER', stream, WORKERS_GROUP, this.name]);
      } catch {
        // Redis is gone: the consumer entry stays, harmless.
      }
    }
    await this.#subscriber.close();
    await this.#reader.close();
    await this.#lease.release();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * Runs a worker: takes parts sent by `distributed(name, ...)` callers for each `name` of
 * `processors`, at most `concurrency` at once (short parts are taken ahead of the free slots, see
 * `prefetchOf`), and sends their outputs back in order with (part, sequence) numbers. Parts of a
 * stopped run (or of a dead caller) are not started; those in
 * flight have `ctx.signal` aborted. Errors thrown by a processor go to its caller, never here.
 * Resolves once connected and subscribed; `close()` finishes the parts in flight, then leaves.
 */
export async function serve(processors: Record<string, PartProcessor>, options: ServeOptions): Promise<RemoteWorker> {
  if (typeof options?.redis !== 'string') {
    throw new RedisOptionError(
      'serve: options.redis must be a Redis URL',
      "pass { redis: 'redis://127.0.0.1:6379' } (the same Redis the callers use)",
    );
  }
  if (options.name !== undefined && (typeof options.name !== 'string' || !/^\S+$/.test(options.name))) {
    throw new RedisOptionError(
      `serve: options.name must be a non-empty string without spaces, got ${JSON.stringify(options.name)}`,
      "pass a name such as 'worker-1' (it names this worker's consumer and connections), or leave it out",
    );
  }
  const names = Object.keys(processors ?? {});
  if (names.length === 0) {
    throw new RedisOptionError(
      'serve: no processors to serve',
      'pass { name: partProcessor(...) }, one entry per name',
    );
  }
  for (const name of names) {
    const p: unknown = processors[name];
    if (typeof p !== 'function' || typeof (p as { match?: unknown }).match !== 'function') {
      throw new RedisOptionError(
        `serve: processors.${name} is not a part processor`,
        'make it with partProcessor(fn), or chain part processors',
      );
    }
  }
  const worker = new Worker(processors, options);
  await worker.start(options.redis);
  return worker;
}
