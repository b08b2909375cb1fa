// distributed(): a part processor whose parts are processed by `serve` workers in other processes.
// The local engine (core's partProcessor) keeps the order, the concurrency bound and the stopping
// rules; this file only moves each part to Redis and its outputs back.

import { type Context, type Part, type PartProcessor, type PartResult, partProcessor } from '@sluice/core';
import { positiveInt, RedisOptionError } from './errors.ts';
import { acquireHub, type CallerHub, PartCall, releaseHub, type Submission } from './hub.ts';
import { DEFAULT_NAMESPACE, newId } from './keys.ts';
import { blobKeyOf, type Command, encodePart } from './wire.ts';

/** Options of `distributed`. */
export interface DistributedOptions {
  /** Redis URL, e.g. `redis://127.0.0.1:6379`. */
  redis: string;
  /** Parts of one run queued or in flight at once. Default 16. */
  concurrency?: number;
  /** Prefix of every key; callers and workers must agree. Default 'sluice'. */
  namespace?: string;
  /**
   * A part whose worker sent no heartbeat for this long is given to another worker; also the TTL of
   * this run's liveness key (a caller that died stops its runs after it). Default 30,000 ms.
   */
  claimIdleMs?: number;
  /** Deliveries of one part before it goes to the dead-letter stream and fails. Default 3. */
  maxDeliveries?: number;
  /** Which parts go to the workers (others pass through in their place). Default: all. */
  match?: (part: Part) => boolean;
}

export const DEFAULT_DISTRIBUTED_CONCURRENCY = 16;
export const DEFAULT_CLAIM_IDLE_MS = 30_000;
export const DEFAULT_MAX_DELIVERIES = 3;

/** One run of a distributed processor: its id, liveness key, and the parts it has sent. */
class RemoteRun {
  readonly id = newId();
  readonly key: string;
  index = 0;
  readonly open = new Set<PartCall>();
  /** Resolves once the stop (or the end) has been written to Redis. */
  stopped: Promise<void> | undefined;
  #started = false;
  #batch: Submission | undefined;
  readonly #head: readonly string[];
  readonly #onClose: (call: PartCall) => Promise<void> | void;

  constructor(
    readonly hub: CallerHub,
    readonly processor: string,
    readonly options: { claimIdleMs: number; maxDeliveries: number },
    signal: AbortSignal,
  ) {
    this.key = hub.keys.run(this.id);
    hub.runs.add(this.key);
    this.#head = [this.id];
    // A part's end: forget it; when the run is stopping, end only once the stop is in Redis (a
    // `break` then means nothing more starts).
    this.#onClose = (call) => {
      this.finish(call);
      if (signal.aborted) return this.stop();
    };
  }

  /** Queues `part` for the workers (sent with the other parts of this event-loop turn); its outputs. */
  submit(part: Part): PartCall {
    const index = this.index++;
    const call = new PartCall(`${this.id}:${index}`, this.processor, this.#onClose);
    const hub = this.hub;
    hub.calls.set(call.key, call);
    this.open.add(call);
    let batch = this.#batch;
    if (!batch || batch.sent) {
      batch = {
        before: [],
        stream: hub.keys.parts(this.processor),
        head: this.#head,
        first: index,
        wires: [],
        calls: [],
        sent: false,
        cancelled: false,
      };
      this.#batch = batch;
      if (!this.#started) {
        // The run key exists before its first part does: a worker reading a part checks it.
        this.#started = true;
        // Its value is what every part of the run shares (workers read it with the liveness check).
        const info = `${hub.id} ${this.options.claimIdleMs} ${this.options.maxDeliveries}`;
        batch.before.push(['SET', this.key, info, 'PX', String(this.options.claimIdleMs)]);
      }
      hub.ensureGroup(this.processor, batch.before);
      hub.submit(batch);
    }
    const wire = encodePart(part, hub.keys, batch.before);
    const blob = blobKeyOf(wire);
    if (blob !== undefined) call.blobs.push(blob);
    batch.wires.push(JSON.stringify(wire));
    batch.calls.push(call);
    return call;
  }

  /** The part is finished (or abandoned): forget it and its input payload. */
  finish(call: PartCall): void {
    if (!this.open.delete(call)) return;
    this.hub.calls.delete(call.key);
    if (call.blobs.length > 0) void this.hub.send([['DEL', ...call.blobs]]).catch(() => {});
  }

  /**
   * The run ended (its ctx.signal aborted): delete the liveness key so no queued part of it starts,
   * tell the workers to abort its parts in flight, end the calls still waiting, release the hub.
   */
  stop(): Promise<void> {
    this.stopped ??= (async () => {
      const hub = this.hub;
      hub.runs.delete(this.key);
      // Parts not sent yet are never sent (nor their payloads).
      const unsent = this.#batch && !this.#batch.sent ? this.#batch : undefined;
      if (unsent) unsent.cancelled = true;
      const commands: Command[] = this.#started ? [['DEL', this.key]] : [];
      const inRedis = [...this.open].filter((c) => !unsent?.calls.includes(c));
      if (inRedis.length > 0) commands.push(['PUBLISH', hub.keys.stopChannel, this.id]);
      const blobs = inRedis.flatMap((c) => c.blobs);
      if (blobs.length > 0) commands.push(['DEL', ...blobs]);
      for (const call of this.open) {
        hub.calls.delete(call.key);
        call.end();
      }
      this.open.clear();
      try {
        if (commands.length > 0) await hub.send(commands);
      } catch {
        // Redis is gone: the run key expires on its own and workers stop the parts then.
      } finally {
        await releaseHub(hub);
      }
    })();
    return this.stopped;
  }
}

/**
 * A part processor whose parts are processed by `serve(...)` workers (any number, any machine)
 * under `name`. Ordering: all outputs of part i before any of part i+1, the head part's outputs
 * streaming as the worker makes them (rebuilt here from part indexes and output sequence numbers,
 * never from broker order). Concurrency: at most `concurrency` parts of a run queued or in flight.
 * Delivery is at least once: a dead worker's part is redone by another after `claimIdleMs`, outputs
 * already emitted are skipped; after `maxDeliveries` it fails with `RemoteProcessorError`
 * (code 'E_REMOTE'). Errors: a worker's error arrives as `RemoteProcessorError`; its status and
 * debug parts reach the output. Stopping (break, abort, error) deletes the run's liveness key, so
 * no queued part of it starts anywhere, and workers abort `ctx.signal` of its parts in flight.
 */
export function distributed(name: string, options: DistributedOptions): PartProcessor {
  if (typeof name !== 'string' || name === '') {
    throw new RedisOptionError(
      `distributed: name must be a non-empty string, got ${String(name)}`,
      'pass the name the workers serve the processor under: serve({ [name]: processor }, ...)',
    );
  }
  if (typeof options?.redis !== 'string') {
    throw new RedisOptionError(
      'distributed: options.redis must be a Redis URL',
      "pass { redis: 'redis://127.0.0.1:6379' } (the same Redis the workers use)",
    );
  }
  const concurrency = positiveInt('distributed', 'concurrency', options.concurrency, DEFAULT_DISTRIBUTED_CONCURRENCY);
  const claimIdleMs = positiveInt('distributed', 'claimIdleMs', options.claimIdleMs, DEFAULT_CLAIM_IDLE_MS);
  const maxDeliveries = positiveInt('distributed', 'maxDeliveries', options.maxDeliveries, DEFAULT_MAX_DELIVERIES);
  const namespace = options.namespace ?? DEFAULT_NAMESPACE;
  const url = options.redis;
  // One RemoteRun per run of this processor: the context is per run (and per stage).
  const pending = new WeakMap<Context, Promise<RemoteRun>>();
  const ready = new WeakMap<Context, RemoteRun>();
  const runOf = (ctx: Context): Promise<RemoteRun> => {
    let run = pending.get(ctx);
    if (!run) {
      run = (async () => {
        const hub = await acquireHub(url, namespace, claimIdleMs);
        const signal = ctx.signal;
        const remote = new RemoteRun(hub, name, { claimIdleMs, maxDeliveries }, signal);
        if (signal.aborted) void remote.stop();
        else signal.addEventListener('abort', () => void remote.stop(), { once: true });
        ready.set(ctx, remote);
        return remote;
      })();
      pending.set(ctx, run);
    }
    return run;
  };
  return partProcessor(
    function remote(part: Part, ctx: Context): PartResult {
      const run = ready.get(ctx);
      // The common case: the run is open, the part's outputs are its call (no generator per part).
      if (run) return run.stopped ? undefined : run.submit(part);
      return (async function* first() {
        const opened = await runOf(ctx);
        if (opened.stopped) return;
        yield* opened.submit(part);
      })();
    },
    { name, concurrency, ...(options.match ? { match: options.match } : {}) },
  );
}
