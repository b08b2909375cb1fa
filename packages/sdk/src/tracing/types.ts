// The shapes of tracing: calls, their queries, feedback, stored objects, and the store and
// exporter interfaces a Tracing writes through.

import type { TraceUsage } from '@sluice/core';

/** Token counts, summed over a call's descendants in `Call.summary.usage`. */
export type Usage = TraceUsage;

/** Feedback given on a call (a reaction, a note, a score...). */
export interface Feedback {
  id: string;
  callId: string;
  type: string;
  payload?: unknown;
  createdAt: number;
}

/**
 * An input or output part as it is kept: the wire form of a part without its bytes. Text parts
 * of one substream are joined into one entry; a binary part is a blob named by its digest
 * (`sha256:<hex>`, fetched from the store), `bytes` long.
 */
export interface CapturedPart {
  mimetype: string;
  role?: string;
  substream?: string;
  text?: string;
  blob?: string;
  bytes?: number;
  metadata?: Record<string, unknown>;
  toolCall?: unknown;
  toolResult?: unknown;
}

/** What a call kept of its inputs or outputs: parts, or a value (an op's arguments or result). */
export interface Captured {
  parts?: CapturedPart[];
  /** The number of parts seen, kept or not. */
  count?: number;
  /** True when `maxCapturedBytes` was reached and later content was counted only. */
  truncated?: boolean;
}

/** One call: a run of a traced processor, an op call, or a model call. */
export interface Call {
  id: string;
  traceId: string;
  parentId?: string;
  project: string;
  op: string;
  displayName?: string;
  /** 'chain' | 'llm' | 'tool' | 'processor' | 'op' | ... */
  kind?: string;
  /** Epoch ms (Date.now, so fake timers drive it). */
  startedAt: number;
  firstOutputAt?: number;
  endedAt?: number;
  status: 'running' | 'ok' | 'error' | 'cancelled';
  inputs: unknown;
  output?: unknown;
  exception?: { name: string; message: string; stack?: string };
  /** Model calls: the OpenTelemetry gen_ai.* attribute names. */
  attributes: Record<string, unknown>;
  /** `usage` is summed over the call and its descendants. */
  summary: { parts?: number; usage?: Usage; children?: number };
  feedback: Feedback[];
}

/** Filters of `Tracing.calls`; every given field must match. */
export interface CallQuery {
  op?: string | string[];
  traceId?: string;
  parentId?: string;
  rootsOnly?: boolean;
  status?: Call['status'];
  startedAfter?: number;
  startedBefore?: number;
  limit?: number;
  offset?: number;
  /** Default '-startedAt' (newest first). */
  sort?: 'startedAt' | '-startedAt';
}

/** A saved object version. */
export interface StoredObject {
  name: string;
  digest: string;
  ref: string;
  createdAt: number;
  value: unknown;
}

/** One line of a store. */
export type TraceRecord =
  | { kind: 'call'; call: Call }
  | { kind: 'feedback'; feedback: Feedback }
  | { kind: 'delete-call'; ids: string[]; at: number }
  | {
      kind: 'object';
      project: string;
      name: string;
      digest: string;
      createdAt: number;
      type: 'object' | 'table';
      value: unknown;
    }
  | { kind: 'delete-object'; project: string; name: string; digest: string; at: number }
  | { kind: 'blob'; digest: string; mimetype: string; data: string };

/** Counters of a store or exporter: what it wrote, dropped (a full queue) and failed to write. */
export interface TraceStats {
  written: number;
  dropped: number;
  errors: number;
}

/**
 * Where a Tracing keeps its records. `write` never throws and never blocks: a full queue drops the
 * record and counts it. Queries read the store's index (records of other processes included).
 */
export interface TraceStore {
  readonly dir?: string;
  write(record: TraceRecord): void;
  /** The index, brought up to date with what other processes appended. */
  index(): Promise<import('./query.ts').TraceIndex>;
  /** Calls `fn` on every record written or read from now on; returns the unsubscribe function. */
  subscribe(fn: (record: TraceRecord) => void): () => void;
  readonly stats: TraceStats;
  /** Resolves when every record written so far is on disk (or counted as failed). */
  flush(): Promise<void>;
  close(): Promise<void>;
}

/** Receives every call when it ends (and again if it changes later, e.g. usage of a late child). */
export interface TraceExporter {
  export(call: Call): void;
  readonly stats: TraceStats;
  flush(): Promise<void>;
  close(): Promise<void>;
}
