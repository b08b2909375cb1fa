// initTracing and the Tracing it returns: the process's active tracing, the hooks it installs in
// @sluice/core, the calls it records, and the Weave-style surface (calls, objects, tables,
// feedback, deletes) over its store.

import { AsyncIterableX } from '@reactivex/ix-esnext-esm/Ix.asynciterable';
import { type CallHandle, type CallStart, setTraceHooks } from '@sluice/core';
import { activeCall } from './context.ts';
import { TraceError } from './errors.ts';
import { newCallId, newTraceId } from './ids.ts';
import { type CallSink, LiveCall } from './live-call.ts';
import { checkName, digestOf, parseRef } from './objects.ts';
import { isForeignParent, loadOtelBridge, otelParent } from './otel-bridge.ts';
import { objectRef } from './query.ts';
import { jsonlStore } from './store/jsonl.ts';
import type { Call, CallQuery, Feedback, StoredObject, TraceExporter, TraceStore } from './types.ts';

/** Defaults of `initTracing`. */
export const TRACING_DEFAULTS = {
  project: 'default',
  dir: '.sluice/traces',
  /** Bytes of inputs plus outputs one call keeps; past it, only counts. */
  maxCapturedBytes: 64 * 1024,
};

export interface TracingOptions {
  project?: string;
  store?: TraceStore | string;
  exporters?: TraceExporter[];
  recordContent?: boolean;
  maxCapturedBytes?: number;
}

/** A tracing: records calls, and reads them back with objects and feedback. See `initTracing`. */
export interface Tracing extends AsyncDisposable {
  readonly project: string;
  /** The store it writes to (for a viewer). */
  readonly store: TraceStore;
  calls(query?: CallQuery): AsyncIterableX<Call>;
  call(id: string): Promise<Call | undefined>;
  save(value: unknown, name: string): Promise<string>;
  get<T = unknown>(ref: string): Promise<T>;
  objects(query?: { name?: string; latestOnly?: boolean }): AsyncIterableX<StoredObject>;
  table(name: string, rows: Record<string, unknown>[]): Promise<string>;
  feedback(call: Call | string, type: string, payload?: unknown): Promise<Feedback>;
  deleteCall(call: Call | string): Promise<void>;
  deleteObject(ref: string): Promise<void>;
  flush(): Promise<void>;
  close(): Promise<void>;
}

/** Open tracings, newest last: the last one is the process's active tracing. */
const open: TracingImpl[] = [];

/** The process's active tracing (the last one opened and not closed), if any. */
export function activeTracing(): Tracing | undefined {
  return open[open.length - 1];
}

/** @internal The tracing that records a call under `parent` (its own), or the active one. */
export function tracingFor(parent: unknown, explicit?: Tracing): TracingImpl | undefined {
  if (explicit) return (explicit as TracingImpl).closed ? undefined : (explicit as TracingImpl);
  if (parent instanceof LiveCall) {
    const owner = (parent.sink as TracingImpl).closed ? undefined : (parent.sink as TracingImpl);
    if (owner) return owner;
  }
  return open[open.length - 1];
}

/** The call open in the current async context: ours, else the application's active OTel span. */
export function edgeCall(): unknown {
  return activeCall() ?? otelParent();
}

function installHooks(): void {
  setTraceHooks(
    open.length === 0
      ? undefined
      : {
          edge: edgeCall,
          start: (parent, info) => tracingFor(parent)?.startCall(parent, info),
        },
  );
}

/**
 * Starts recording: returns a Tracing that is the process's active tracing until it is closed
 * (traced processors, ops and model processors record into it). The store defaults to
 * `jsonlStore('.sluice/traces')`; a string is a folder for a jsonlStore. Records are written in the
 * background: `flush()` waits for them, `close()` (or `await using`) flushes and stops, and on a
 * normal exit the process flushes what is pending. A failing store or exporter never throws into
 * the traced program.
 */
export async function initTracing(options: TracingOptions = {}): Promise<Tracing> {
  const store =
    typeof options.store === 'string' || options.store === undefined
      ? jsonlStore(options.store ?? TRACING_DEFAULTS.dir)
      : options.store;
  const tracing = new TracingImpl(
    options.project ?? TRACING_DEFAULTS.project,
    store,
    options.exporters ?? [],
    options.recordContent ?? true,
    options.maxCapturedBytes ?? TRACING_DEFAULTS.maxCapturedBytes,
  );
  await loadOtelBridge();
  open.push(tracing);
  installHooks();
  return tracing;
}

class TracingImpl implements Tracing, CallSink {
  closed = false;
  readonly #blobsWritten = new Set<string>();
  readonly #onExit = () => void this.flush();
  readonly blobs = (digest: string, mimetype: string, data: Uint8Array) => {
    if (this.#blobsWritten.has(digest)) return;
    this.#blobsWritten.add(digest);
    this.store.write({
      kind: 'blob',
      digest,
      mimetype,
      data: Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64'),
    });
  };

  constructor(
    readonly project: string,
    readonly store: TraceStore,
    readonly exporters: readonly TraceExporter[],
    readonly recordContent: boolean,
    readonly maxCapturedBytes: number,
  ) {
    process.once('beforeExit', this.#onExit);
  }

  /** @internal Starts a call under `parent` (a LiveCall of any tracing, or none). */
  startCall(
    parent: unknown,
    info: CallStart & { displayName?: string; inputValue?: { value: unknown }; inputParts?: boolean },
  ): LiveCall {
    const up = parent instanceof LiveCall && !parent.ended ? parent : undefined;
    const foreign = !up && isForeignParent(parent) ? parent : undefined;
    const record: Call = {
      id: newCallId(),
      traceId: up ? up.record.traceId : foreign ? foreign.traceId : newTraceId(),
      project: this.project,
      op: info.op,
      kind: info.kind,
      startedAt: Date.now(),
      status: 'running',
      inputs: undefined,
      attributes: info.attributes ? { ...info.attributes } : {},
      summary: {},
      feedback: [],
    };
    if (foreign) record.parentId = foreign.spanId;
    if (up) {
      record.parentId = up.record.id;
      up.record.summary.children = (up.record.summary.children ?? 0) + 1;
    }
    if (info.displayName !== undefined) record.displayName = info.displayName;
    const inputs = info.inputValue ?? (info.inputs ? info.inputs : 'parts');
    return new LiveCall(record, up, this, inputs);
  }

  write(call: Call): void {
    this.store.write({ kind: 'call', call });
  }

  ended(call: Call): void {
    for (const exporter of this.exporters) {
      try {
        exporter.export(call);
      } catch {
        // An exporter's failure is counted by the exporter; it never reaches the pipeline.
      }
    }
  }

  calls(query: CallQuery = {}): AsyncIterableX<Call> {
    const store = this.store;
    const project = this.project;
    return AsyncIterableX.from(
      (async function* () {
        const index = await store.index();
        for (const call of index.calls(query, project)) yield structuredCloneSafe(call);
      })(),
    );
  }

  async call(id: string): Promise<Call | undefined> {
    const call = (await this.store.index()).call(id);
    return call ? structuredCloneSafe(call) : undefined;
  }

  async save(value: unknown, name: string): Promise<string> {
    checkName(name);
    return this.#saveObject(value, name, 'object');
  }

  async #saveObject(value: unknown, name: string, type: 'object' | 'table'): Promise<string> {
    const digest = digestOf(value);
    const index = await this.store.index();
    const existing = index.object(this.project, name, digest);
    if (!existing) {
      const json = JSON.parse(JSON.stringify(value)) as unknown;
      this.store.write({
        kind: 'object',
        project: this.project,
        name,
        digest,
        createdAt: Date.now(),
        type,
        value: json,
      });
    }
    return objectRef(this.project, name, digest);
  }

  async get<T = unknown>(ref: string): Promise<T> {
    const { project, name, digest } = parseRef(ref);
    const index = await this.store.index();
    const version =
      digest === 'latest'
        ? index.listObjects({ name, latestOnly: true }, project)[0]
        : index.object(project, name, digest);
    if (!version) {
      throw new TraceError('E_NOT_FOUND', `no object at ${ref}: it was never saved here or it was deleted`, {
        hint: 'list what exists with tracing.objects(), or save the value again',
      });
    }
    const value = structuredCloneSafe(version.value);
    return (version.type === 'table' ? (value as { rows: unknown }).rows : value) as T;
  }

  objects(query: { name?: string; latestOnly?: boolean } = {}): AsyncIterableX<StoredObject> {
    const store = this.store;
    const project = this.project;
    return AsyncIterableX.from(
      (async function* () {
        const index = await store.index();
        for (const v of index.listObjects(query, project)) {
          yield {
            name: v.name,
            digest: v.digest,
            ref: v.ref,
            createdAt: v.createdAt,
            value: structuredCloneSafe(v.value),
          };
        }
      })(),
    );
  }

  async table(name: string, rows: Record<string, unknown>[]): Promise<string> {
    checkName(name, 'table');
    if (!Array.isArray(rows)) throw new TypeError('table: rows must be an array of objects');
    return this.#saveObject({ rows }, name, 'table');
  }

  async #known(call: Call | string, what: string): Promise<string> {
    const id = typeof call === 'string' ? call : call?.id;
    const index = await this.store.index();
    if (!index.byId.has(id)) {
      throw new TraceError('E_NOT_FOUND', `${what}: no call ${JSON.stringify(id)} in ${this.project}`, {
        hint: 'pass a call (or its id) from tracing.calls(); a deleted call is gone',
      });
    }
    return id;
  }

  async feedback(call: Call | string, type: string, payload?: unknown): Promise<Feedback> {
    const callId = await this.#known(call, 'feedback');
    if (typeof type !== 'string' || type === '') throw new TypeError('feedback: type must be a non-empty string');
    const feedback: Feedback = { id: newCallId(), callId, type, createdAt: Date.now() };
    if (payload !== undefined) feedback.payload = JSON.parse(JSON.stringify(payload));
    this.store.write({ kind: 'feedback', feedback });
    return feedback;
  }

  async deleteCall(call: Call | string): Promise<void> {
    const id = await this.#known(call, 'deleteCall');
    const index = await this.store.index();
    this.store.write({ kind: 'delete-call', ids: index.subtree(id), at: Date.now() });
  }

  async deleteObject(ref: string): Promise<void> {
    const { project, name, digest } = parseRef(ref);
    const index = await this.store.index();
    if (!index.object(project, name, digest)) {
      throw new TraceError('E_NOT_FOUND', `deleteObject: no object at ${ref}`, {
        hint: 'list what exists with tracing.objects()',
      });
    }
    this.store.write({ kind: 'delete-object', project, name, digest, at: Date.now() });
  }

  async flush(): Promise<void> {
    await Promise.all([this.store.flush(), ...this.exporters.map((e) => e.flush().catch(() => {}))]);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const at = open.indexOf(this);
    if (at >= 0) open.splice(at, 1);
    installHooks();
    process.removeListener('beforeExit', this.#onExit);
    await Promise.all([this.store.close(), ...this.exporters.map((e) => e.close().catch(() => {}))]);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

function structuredCloneSafe<T>(value: T): T {
  try {
    return structuredClone(value);
  } catch {
    return value;
  }
}

export type { CallHandle };
