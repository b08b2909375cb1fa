// The default trace store: append-only JSON Lines files in one folder, one file per process (and
// per store opened), so several processes can write to the same folder without locks. Queries
// are served by an in-memory index built from every file of the folder on first use, then brought
// up to date incrementally with what the other files gained.

import { randomBytes } from 'node:crypto';
import { appendFile, mkdir, open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { TraceIndex } from '../query.ts';
import type { TraceRecord, TraceStats, TraceStore } from '../types.ts';

/** Defaults of `jsonlStore`. */
export const JSONL_STORE_DEFAULTS = {
  /** How long a written record may wait before its batch is appended. */
  flushIntervalMs: 25,
  /** Records waiting at most; more are dropped and counted. */
  maxQueued: 10_000,
};

export interface JsonlStoreOptions {
  flushIntervalMs?: number;
  maxQueued?: number;
  /** Receives each warning (once per kind); default `console.warn`. */
  onWarning?: (message: string) => void;
}

interface FileCursor {
  offset: number;
  rest: string;
}

/**
 * A store in folder `dir` (created on the first write). `write` only queues: batches are appended
 * every `flushIntervalMs` (a timer that never keeps the process alive) or on `flush()`. A full
 * queue drops records and counts them in `stats.dropped`; a failed append counts its records in
 * `stats.errors`; each is warned about once. Nothing here throws into the caller or exits the
 * process. On reading, a line that is not JSON (a torn last line of a crashed writer) is skipped.
 */
export function jsonlStore(dir: string, options: JsonlStoreOptions = {}): TraceStore {
  return new JsonlStore(dir, options);
}

class JsonlStore implements TraceStore {
  readonly stats: TraceStats = { written: 0, dropped: 0, errors: 0 };
  /** Lines of other files that were not JSON (torn or foreign), skipped. */
  skippedLines = 0;
  readonly #index = new TraceIndex();
  readonly #file: string;
  readonly #fileName: string;
  readonly #flushIntervalMs: number;
  readonly #maxQueued: number;
  readonly #warn: (message: string) => void;
  readonly #warned = new Set<string>();
  readonly #listeners = new Set<(record: TraceRecord) => void>();
  readonly #cursors = new Map<string, FileCursor>();
  #queue: TraceRecord[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #writing: Promise<void> = Promise.resolve();
  #dirReady: Promise<void> | undefined;
  #loading: Promise<void> | undefined;
  #closed = false;

  constructor(
    readonly dir: string,
    options: JsonlStoreOptions,
  ) {
    this.#fileName = `${Date.now().toString(36)}-${process.pid}-${randomBytes(4).toString('hex')}.jsonl`;
    this.#file = join(dir, this.#fileName);
    this.#flushIntervalMs = options.flushIntervalMs ?? JSONL_STORE_DEFAULTS.flushIntervalMs;
    this.#maxQueued = options.maxQueued ?? JSONL_STORE_DEFAULTS.maxQueued;
    this.#warn = options.onWarning ?? ((message) => console.warn(message));
  }

  write(record: TraceRecord): void {
    try {
      this.#index.apply(record);
      for (const listener of this.#listeners) listener(record);
    } catch {
      // A listener's failure is not the pipeline's.
    }
    if (this.#closed) {
      this.stats.dropped++;
      return;
    }
    if (this.#queue.length >= this.#maxQueued) {
      this.stats.dropped++;
      this.#warnOnce('dropped', `sluice tracing: the write queue of ${this.dir} is full; records are being dropped`);
      return;
    }
    this.#queue.push(record);
    if (!this.#timer) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#drain();
      }, this.#flushIntervalMs);
      this.#timer.unref?.();
    }
  }

  #warnOnce(kind: string, message: string): void {
    if (this.#warned.has(kind)) return;
    this.#warned.add(kind);
    try {
      this.#warn(message);
    } catch {}
  }

  /** Appends the queued records as one batch, after the batches before it. */
  #drain(): Promise<void> {
    const batch = this.#queue;
    if (batch.length === 0) return this.#writing;
    this.#queue = [];
    this.#writing = this.#writing.then(async () => {
      let text = '';
      for (const record of batch) {
        try {
          text += `${JSON.stringify(record)}\n`;
        } catch {
          this.stats.errors++;
        }
      }
      try {
        this.#dirReady ??= mkdir(this.dir, { recursive: true }).then(() => undefined);
        await this.#dirReady;
        await appendFile(this.#file, text);
        this.stats.written += batch.length;
      } catch (error) {
        this.#dirReady = undefined;
        this.stats.errors += batch.length;
        this.#warnOnce(
          'write',
          `sluice tracing: cannot write to ${this.dir} (${(error as Error).message}); traces are not being kept`,
        );
      }
    });
    return this.#writing;
  }

  async flush(): Promise<void> {
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    await this.#drain();
    await this.#writing;
  }

  async close(): Promise<void> {
    await this.flush();
    this.#closed = true;
  }

  subscribe(fn: (record: TraceRecord) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  async index(): Promise<TraceIndex> {
    // One refresh at a time; a caller arriving during one waits for it and then refreshes again.
    const previous = this.#loading ?? Promise.resolve();
    const next = previous.then(() => this.#refresh());
    this.#loading = next.catch(() => {});
    await next;
    return this.#index;
  }

  /** Reads what the other files of the folder gained since the last refresh. */
  async #refresh(): Promise<void> {
    let names: string[];
    try {
      names = (await readdir(this.dir)).filter((n) => n.endsWith('.jsonl') && n !== this.#fileName).sort();
    } catch {
      return; // No folder yet: nothing to read.
    }
    for (const name of names) {
      const cursor = this.#cursors.get(name) ?? { offset: 0, rest: '' };
      this.#cursors.set(name, cursor);
      let handle: Awaited<ReturnType<typeof open>> | undefined;
      try {
        handle = await open(join(this.dir, name), 'r');
        const { size } = await handle.stat();
        if (size <= cursor.offset) continue;
        const buffer = Buffer.alloc(size - cursor.offset);
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, cursor.offset);
        cursor.offset += bytesRead;
        this.#consume(cursor, buffer.toString('utf8', 0, bytesRead));
      } catch {
        // An unreadable file is skipped; the others still count.
      } finally {
        await handle?.close();
      }
    }
  }

  #consume(cursor: FileCursor, text: string): void {
    const lines = (cursor.rest + text).split('\n');
    cursor.rest = lines.pop() ?? '';
    for (const line of lines) this.#applyLine(line);
    // A last line without its newline: complete if it parses (else torn, or still being written).
    if (cursor.rest !== '' && this.#applyLine(cursor.rest, true)) cursor.rest = '';
  }

  #applyLine(line: string, quiet = false): boolean {
    if (line.trim() === '') return true;
    let record: TraceRecord;
    try {
      record = JSON.parse(line) as TraceRecord;
    } catch {
      if (!quiet) this.skippedLines++;
      return false;
    }
    if (!record || typeof record !== 'object' || typeof record.kind !== 'string') {
      this.skippedLines++;
      return true;
    }
    this.#index.apply(record);
    for (const listener of this.#listeners) {
      try {
        listener(record);
      } catch {}
    }
    return true;
  }
}
