// The worker pool of `align`: threads running align-worker.js that read blocks into the arena and compute them in
// place. The arena is one shared WebAssembly.Memory cut into slots, one per block in flight; the workers read the
// base and delta bytes of a block into its slot, modify the weights there (the SIMD kernel imports that memory, so
// nothing is copied) and answer with the block's sums; the main thread writes the slot out (output.ts).

import { Worker } from 'node:worker_threads';
import { FormatError } from '../safetensors/errors.ts';
import type { BlockStats } from './align-kernel.js';
import { sharedKernelModule } from './align-simd.js';
import { PAGE } from './output.ts';

let liveWorkers = 0;

/** Number of align workers currently running in this thread (0 when every alignment has finished or stopped). */
export function alignWorkerCount(): number {
  return liveWorkers;
}

/** A worker's answer to one `call`: ok with the block's sums, or a failure. */
export interface WorkerReply {
  id: number;
  ok: boolean;
  message?: string;
  /** Set on failures: a read that met the end of the file, or the errno code of a failed read. */
  eof?: boolean;
  code?: string;
  stats: BlockStats;
}

/** The error a worker reported, as the main thread would have thrown it. */
function workerError(reply: WorkerReply): Error {
  if (reply.eof) return new FormatError('data-length', reply.message ?? 'unexpected end of file');
  const error = new Error(`align worker: ${reply.message}`);
  return reply.code ? Object.assign(error, { code: reply.code }) : error;
}

/** One block's place in the arena: byte addresses of its weights (a block and a page) and of its delta (a block). */
export interface Slot {
  readonly w: number;
  readonly d: number;
}

/**
 * The memory of the blocks in flight: one shared WebAssembly.Memory that the workers read into and compute in (their
 * SIMD kernel imports it) and the main thread writes from. Worker `i` owns 64 bytes at `statsAt(i)` for its sums.
 */
export interface Arena {
  readonly memory: WebAssembly.Memory;
  readonly slots: Slot[];
  statsAt(worker: number): number;
  /** A view of `length` bytes at `at`. */
  view(at: number, length: number): Uint8Array;
}

const roundUp = (n: number, to: number) => Math.ceil(n / to) * to;

/** The arena for `depth` blocks in flight of at most `blockBytes` bytes of weights each, and `workers` workers. */
export function createArena(depth: number, blockBytes: number, workers: number): Arena {
  // Weights sit in their slot at the page offset they have in the output file (so whole pages can be written
  // directly): a page more than a block. Deltas start at their slot.
  const wBytes = roundUp(blockBytes, PAGE) + PAGE;
  const dBytes = roundUp(blockBytes, PAGE);
  const header = roundUp(workers * 64, PAGE);
  const pages = Math.ceil((header + depth * (wBytes + dBytes)) / 65536);
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
  const buffer = memory.buffer;
  const slots = Array.from({ length: depth }, (_, i) => ({
    w: header + i * (wBytes + dBytes),
    d: header + i * (wBytes + dBytes) + wBytes,
  }));
  return {
    memory,
    slots,
    statsAt: (worker) => worker * 64,
    view: (at, length) => new Uint8Array(buffer, at, length),
  };
}

/**
 * The main thread's handle on one worker, or on the pool (`startWorkers`). `call` sends a block and resolves with the
 * reply (rejects with the worker's error, or once the worker exited); `post` sends a message that has no reply (a
 * LoRA A matrix, or its drop); `terminate` is idempotent.
 */
export interface AlignWorker {
  call(message: Record<string, unknown>, transfer: ArrayBuffer[]): Promise<WorkerReply>;
  post(message: Record<string, unknown>, transfer?: ArrayBuffer[]): void;
  terminate(): Promise<void>;
  /** Blocks sent and not yet answered. */
  readonly busy: number;
}

/** Starts one worker over the arena's `memory`; its sums go to the 64 bytes at `statsAt`. */
function startWorker(memory: WebAssembly.Memory, statsAt: number): AlignWorker {
  const workerData = { memory, statsAt, module: sharedKernelModule() };
  // No execArgv: the worker is plain JavaScript and needs no flag, and a loader it would inherit (tsx, ts-node, a
  // test runner's `--import`) starts again in each worker and costs more than the worker itself (~150 ms under tsx).
  const worker = new Worker(new URL('./align-worker.js', import.meta.url), { workerData, execArgv: [] });
  liveWorkers++;
  const pending = new Map<number, { resolve: (r: WorkerReply) => void; reject: (e: unknown) => void }>();
  let nextId = 0;
  let failure: Error | undefined;
  let exited = false;
  let terminating: Promise<void> | undefined;
  const failAll = (error: Error) => {
    failure ??= error;
    for (const p of pending.values()) p.reject(failure);
    pending.clear();
  };
  const onExit = (code: number) => {
    if (!exited) liveWorkers--;
    exited = true;
    failAll(new Error(`align worker exited with code ${code}`));
  };
  worker.on('message', (reply: WorkerReply) => {
    const p = pending.get(reply.id);
    if (!p) return;
    pending.delete(reply.id);
    if (reply.ok) p.resolve(reply);
    else p.reject(workerError(reply));
  });
  worker.on('error', failAll);
  worker.on('exit', onExit);
  return {
    call(message, transfer) {
      if (failure) return Promise.reject(failure);
      const id = nextId++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        worker.postMessage({ ...message, id }, transfer);
      });
    },
    post(message, transfer = []) {
      if (!failure) worker.postMessage(message, transfer);
    },
    terminate() {
      terminating ??= worker.terminate().then((code) => onExit(code));
      return terminating;
    },
    get busy() {
      return pending.size;
    },
  };
}

/**
 * Default number of align workers: one. A worker reads its blocks and computes them, so two (the `workers` option)
 * finish sooner on an idle machine (about 1.1x for F32, 1.4x for BF16 on two cores), but cost more CPU in all
 * (a second start, memory bandwidth shared), about 15 MiB more memory, and are slower on a busy machine.
 */
export const DEFAULT_ALIGN_WORKERS = 1;

/**
 * Several workers behind one AlignWorker: each block goes to the least busy one; `post` (LoRA matrices, drops)
 * goes to all. Which worker computed a block does not matter: the sums are reduced in block order.
 */
export function startWorkers(count: number, arena: Arena): AlignWorker {
  const workers = Array.from({ length: count }, (_, i) => startWorker(arena.memory, arena.statsAt(i)));
  return {
    call(message, transfer) {
      let best = workers[0]!;
      for (const w of workers) if (w.busy < best.busy) best = w;
      return best.call(message, transfer);
    },
    post(message, transfer = []) {
      for (const [i, w] of workers.entries()) {
        // Each worker needs its own copy of transferred buffers; the last one takes the originals.
        const last = i === workers.length - 1;
        const own = last ? transfer : transfer.map((b) => b.slice(0));
        const copy = last ? message : { ...message, ...copyBuffers(message, transfer, own) };
        w.post(copy, own);
      }
    },
    async terminate() {
      await Promise.all(workers.map((w) => w.terminate()));
    },
    get busy() {
      return workers.reduce((n, w) => n + w.busy, 0);
    },
  };
}

function copyBuffers(
  message: Record<string, unknown>,
  from: ArrayBuffer[],
  to: ArrayBuffer[],
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(message)) {
    const i = from.indexOf(value as ArrayBuffer);
    if (i >= 0) out[key] = to[i];
  }
  return out;
}
