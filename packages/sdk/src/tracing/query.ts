// The in-memory index a store serves queries from: calls by id, by op, by trace and by parent,
// sorted by start time on demand; feedback by call; objects by name and digest; blobs by digest.
// Records are applied in any order (several processes append to one folder): an ended snapshot of
// a call wins over a running one, deletes are tombstones that also hide records applied later.

import type { Call, CallQuery, Feedback, StoredObject, TraceRecord } from './types.ts';

/** A stored object version and its kind (a table keeps rows). */
export interface ObjectVersion extends StoredObject {
  project: string;
  type: 'object' | 'table';
}

export function objectRef(project: string, name: string, digest: string): string {
  return `sluice:///${project}/object/${name}:${digest}`;
}

export class TraceIndex {
  readonly byId = new Map<string, Call>();
  readonly byTrace = new Map<string, Set<string>>();
  readonly byParent = new Map<string, Set<string>>();
  readonly byOp = new Map<string, Set<string>>();
  readonly feedback = new Map<string, Feedback[]>();
  readonly deletedCalls = new Set<string>();
  /** `${project}/${name}` -> versions, oldest first. */
  readonly objects = new Map<string, ObjectVersion[]>();
  readonly deletedObjects = new Set<string>();
  readonly blobs = new Map<string, { mimetype: string; data: string }>();

  apply(record: TraceRecord): void {
    switch (record.kind) {
      case 'call':
        this.#putCall(record.call);
        return;
      case 'feedback': {
        const list = this.feedback.get(record.feedback.callId) ?? [];
        if (!list.some((f) => f.id === record.feedback.id)) list.push(record.feedback);
        this.feedback.set(record.feedback.callId, list);
        return;
      }
      case 'delete-call':
        for (const id of record.ids) {
          this.deletedCalls.add(id);
          this.#removeCall(id);
        }
        return;
      case 'object': {
        const key = `${record.project}/${record.name}`;
        const list = this.objects.get(key) ?? [];
        if (!list.some((v) => v.digest === record.digest)) {
          list.push({
            project: record.project,
            name: record.name,
            digest: record.digest,
            ref: objectRef(record.project, record.name, record.digest),
            createdAt: record.createdAt,
            value: record.value,
            type: record.type,
          });
          list.sort((a, b) => a.createdAt - b.createdAt);
        }
        this.objects.set(key, list);
        return;
      }
      case 'delete-object':
        this.deletedObjects.add(objectRef(record.project, record.name, record.digest));
        return;
      case 'blob':
        this.blobs.set(record.digest, { mimetype: record.mimetype, data: record.data });
        return;
    }
  }

  /** The order calls were first seen in (their start order within a process): breaks ties of startedAt. */
  readonly #seen = new Map<string, number>();

  #putCall(call: Call): void {
    if (this.deletedCalls.has(call.id)) return;
    const old = this.byId.get(call.id);
    // A running snapshot never replaces an ended one (two processes' files are read in any order).
    if (old && old.status !== 'running' && call.status === 'running') return;
    this.byId.set(call.id, call);
    if (old) return;
    this.#seen.set(call.id, this.#seen.size);
    add(this.byTrace, call.traceId, call.id);
    if (call.parentId) add(this.byParent, call.parentId, call.id);
    add(this.byOp, call.op, call.id);
  }

  #removeCall(id: string): void {
    const call = this.byId.get(id);
    if (!call) return;
    this.byId.delete(id);
    this.byTrace.get(call.traceId)?.delete(id);
    if (call.parentId) this.byParent.get(call.parentId)?.delete(id);
    this.byOp.get(call.op)?.delete(id);
  }

  /** The call with its feedback, or undefined when unknown or deleted. */
  call(id: string): Call | undefined {
    const call = this.byId.get(id);
    return call ? this.#withFeedback(call) : undefined;
  }

  #withFeedback(call: Call): Call {
    const feedback = this.feedback.get(call.id);
    return feedback ? { ...call, feedback: [...call.feedback, ...feedback] } : call;
  }

  /** The ids of `id` and every descendant. */
  subtree(id: string): string[] {
    const out: string[] = [];
    const stack = [id];
    while (stack.length > 0) {
      const next = stack.pop()!;
      out.push(next);
      for (const child of this.byParent.get(next) ?? []) stack.push(child);
    }
    return out;
  }

  /** Matching calls, sorted, after offset and limit. */
  calls(query: CallQuery = {}, project?: string): Call[] {
    let ids: Iterable<string>;
    if (query.traceId !== undefined) ids = this.byTrace.get(query.traceId) ?? [];
    else if (query.parentId !== undefined) ids = this.byParent.get(query.parentId) ?? [];
    else if (typeof query.op === 'string') ids = this.byOp.get(query.op) ?? [];
    else ids = this.byId.keys();
    const ops = query.op === undefined ? undefined : new Set(Array.isArray(query.op) ? query.op : [query.op]);
    const out: Call[] = [];
    for (const id of ids) {
      const call = this.byId.get(id);
      if (!call) continue;
      if (project !== undefined && call.project !== project) continue;
      if (ops && !ops.has(call.op)) continue;
      if (query.traceId !== undefined && call.traceId !== query.traceId) continue;
      if (query.parentId !== undefined && call.parentId !== query.parentId) continue;
      if (query.rootsOnly && call.parentId !== undefined) continue;
      if (query.status !== undefined && call.status !== query.status) continue;
      if (query.startedAfter !== undefined && !(call.startedAt > query.startedAfter)) continue;
      if (query.startedBefore !== undefined && !(call.startedAt < query.startedBefore)) continue;
      out.push(call);
    }
    const sign = query.sort === 'startedAt' ? 1 : -1;
    // Calls started in the same millisecond keep their start order (ascending) or its reverse.
    const seen = this.#seen;
    out.sort((a, b) => sign * (a.startedAt - b.startedAt || (seen.get(a.id) ?? 0) - (seen.get(b.id) ?? 0)));
    const offset = query.offset ?? 0;
    const end = query.limit === undefined ? undefined : offset + query.limit;
    return out.slice(offset, end).map((call) => this.#withFeedback(call));
  }

  /** Object versions (not deleted), oldest first per name; `latestOnly`: the newest of each name. */
  listObjects(query: { name?: string; latestOnly?: boolean } = {}, project?: string): ObjectVersion[] {
    const out: ObjectVersion[] = [];
    for (const versions of this.objects.values()) {
      const live = versions.filter(
        (v) =>
          !this.deletedObjects.has(v.ref) &&
          (project === undefined || v.project === project) &&
          (query.name === undefined || v.name === query.name),
      );
      if (live.length === 0) continue;
      if (query.latestOnly) out.push(live[live.length - 1]!);
      else out.push(...live);
    }
    return out;
  }

  /** The object version of `ref`, or undefined when unknown or deleted. */
  object(project: string, name: string, digest: string): ObjectVersion | undefined {
    const version = this.objects.get(`${project}/${name}`)?.find((v) => v.digest === digest);
    return version && !this.deletedObjects.has(version.ref) ? version : undefined;
  }
}

function add(map: Map<string, Set<string>>, key: string, id: string): void {
  let set = map.get(key);
  if (!set) {
    set = new Set();
    map.set(key, set);
  }
  set.add(id);
}
