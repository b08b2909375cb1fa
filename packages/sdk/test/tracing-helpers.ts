// A trace store in memory for tests: every record in order, and the index the Tracing reads.
import { TraceIndex, type TraceRecord, type TraceStore } from '@sluice/sdk';

export interface MemoryStore extends TraceStore {
  readonly records: TraceRecord[];
  /** The status of each 'call' record written, in order, for call `id` (start and end snapshots). */
  ends(id: string): string[];
}

export function memoryStore(): MemoryStore {
  const index = new TraceIndex();
  const records: TraceRecord[] = [];
  const listeners = new Set<(r: TraceRecord) => void>();
  const snapshots = new Map<string, string[]>();
  return {
    records,
    stats: { written: 0, dropped: 0, errors: 0 },
    write(record) {
      records.push(record);
      if (record.kind === 'call') {
        const list = snapshots.get(record.call.id) ?? [];
        list.push(record.call.status);
        snapshots.set(record.call.id, list);
      }
      index.apply(record);
      for (const l of listeners) l(record);
    },
    ends: (id) => (snapshots.get(id) ?? []).filter((s) => s !== 'running'),
    index: async () => index,
    subscribe(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    flush: async () => {},
    close: async () => {},
  };
}
