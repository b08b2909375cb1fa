// `align`: streams a weight delta (full tensors or LoRA pairs) into a copy of
// the base weights, one AlignmentChunk per layer (WEIGHTS.md, "align").
// Blocks live in slots of one shared WebAssembly memory (the arena): the worker
// (align-worker.js) reads the base and delta bytes of a block straight into its
// slot, modifies the weights there in place (SIMD kernel, no copies) and answers
// with the block's sums; the main thread writes the slot out, whole pages
// straight to the disk (O_DIRECT) where the file system allows, and does the
// bookkeeping. A block per slot is in flight, across layer boundaries, so
// reading, computing and writing overlap. Memory is the arena plus the LoRA A
// matrices in flight, whatever the model size.

import { constants as fsConstants } from 'node:fs';
import { type FileHandle, mkdir, open, rename, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { type Context, jsonPart, type Part, type PartProcessor, partProcessor, readJSON } from '@sluice/core';
import { z } from 'zod';
import type { BlockStats } from './align-kernel.js';
import { sharedKernelModule } from './align-simd.js';
import {
  DeltaConflictError,
  DtypeError,
  FormatError,
  NonFiniteError,
  ShapeError,
  UnmatchedError,
  WeightsError,
} from './errors.ts';
import { syncDir } from './files.ts';
import { jsonObjectOf, jsonTypeOf } from './json-parts.ts';
import {
  decodeFloats,
  dtypeBytes,
  encodeSafetensorsHeader,
  type FloatDtype,
  INDEX_FILE,
  isFloatDtype,
  type ModelTensor,
  openModel,
  openSafetensors,
  partialPath,
  type SafetensorsFile,
  type TensorInfo,
  type WeightsModel,
  writeFully,
} from './safetensors.ts';

/** One layer's progress; the last chunk (`isFinal`) carries `alignmentScore` and `outputPath` and comes after the rename. */
export const AlignmentChunkSchema = z.object({
  layerIndex: z.number().int().nonnegative(),
  totalLayers: z.number().int().positive(),
  deltaNorm: z.number().nonnegative(),
  progressPct: z.number(),
  isFinal: z.boolean(),
  alignmentScore: z.number().optional(),
  outputPath: z.string().optional(),
  /** Cosine between the layer's modified weights before and after (1 when nothing changed). */
  layerScore: z.number().optional(),
});
/** One layer's progress (API.md section 3). */
export type AlignmentChunk = z.infer<typeof AlignmentChunkSchema>;

/** Default block size: bytes of base weights per block handed to the worker. */
export const DEFAULT_BLOCK_BYTES = 1024 * 1024;
/** Larger `blockBytes` are used as this many bytes per block (the slots of all blocks in flight must fit in 4 GiB). */
const MAX_BLOCK_BYTES = 64 * 1024 * 1024;
/** Blocks in flight at once (reading, computing, writing). */
const PIPELINE_DEPTH = 8;

/** Options of `alignPackage`: one delta package applied to one base, written to `output`. */
export interface AlignPackageOptions {
  /** A `.safetensors` file, or a folder with `model.safetensors.index.json` (sharded) or `model.safetensors`. */
  readonly baseWeights: string;
  /** The delta package, a `.safetensors` file. */
  readonly package: string;
  /** Finite, 0 <= strength <= 2; else RangeError. */
  readonly strength: number;
  /** Output file (single-file base) or folder (folder base). */
  readonly output: string;
  /** Block indices to modify; others (and tensors outside blocks) are copied unchanged. Default: all. */
  readonly layers?: readonly number[];
  /**
   * Bytes of base weights per block (>= 64; larger than 64 MiB is used as 64 MiB). Memory is about 16 blocks:
   * 8 in flight, weights and deltas. Default 1 MiB.
   */
  readonly blockBytes?: number;
  /** Worker threads reading blocks and doing the arithmetic. Default 1 (DEFAULT_ALIGN_WORKERS). */
  readonly workers?: number;
}

/** Throws RangeError unless `strength` is finite and 0 <= strength <= 2. */
export function checkStrength(strength: number): void {
  if (typeof strength !== 'number' || !Number.isFinite(strength) || strength < 0 || strength > 2) {
    throw new RangeError(`strength must be a finite number in [0, 2], got ${String(strength)}`);
  }
}

function checkLayers(layers: readonly number[] | undefined): void {
  if (layers === undefined) return;
  if (!Array.isArray(layers) || !layers.every((l) => Number.isSafeInteger(l) && l >= 0)) {
    throw new RangeError(`layers must be an array of non-negative integers, got ${JSON.stringify(layers)}`);
  }
}

function checkBlockBytes(blockBytes: number): void {
  if (!Number.isSafeInteger(blockBytes) || blockBytes < 64) {
    throw new RangeError(`blockBytes must be an integer >= 64, got ${blockBytes}`);
  }
}

const LAYER_PATTERN = /(^|\.)(layers|h|blocks|block|layer)\.(\d+)\./;

/** The block (layer) index of a tensor name, or undefined for tensors outside blocks (embeddings, final norm, ...). */
export function layerIndexOf(name: string): number | undefined {
  const match = LAYER_PATTERN.exec(name);
  return match ? Number(match[3]) : undefined;
}

type Modification =
  | { readonly kind: 'full'; readonly delta: TensorInfo }
  | {
      readonly kind: 'lora';
      readonly a: TensorInfo;
      readonly b: TensorInfo;
      readonly rank: number;
      readonly scale: number;
    };

interface LayerPlan {
  readonly index: number;
  readonly tensors: readonly ModelTensor[];
  readonly selected: boolean;
}

interface Plan {
  readonly layers: readonly LayerPlan[];
  readonly modifications: ReadonlyMap<string, Modification>;
}

const LORA_PREFIX = 'base_model.model.';
const LORA_A = '.lora_A.weight';
const LORA_B = '.lora_B.weight';

/** Resolves every package tensor to a base tensor and checks names, shapes and dtypes; writes nothing. */
function resolvePlan(base: WeightsModel, pkg: SafetensorsFile, layers: readonly number[] | undefined): Plan {
  const full = new Map<string, TensorInfo>();
  const loraA = new Map<string, TensorInfo>();
  const loraB = new Map<string, TensorInfo>();
  for (const t of pkg.tensors) {
    const stripped = t.name.startsWith(LORA_PREFIX) ? t.name.slice(LORA_PREFIX.length) : t.name;
    const side = stripped.endsWith(LORA_A) ? loraA : stripped.endsWith(LORA_B) ? loraB : undefined;
    if (!side) {
      full.set(t.name, t);
      continue;
    }
    const target = `${stripped.slice(0, -LORA_A.length)}.weight`;
    if (side.has(target)) throw new DeltaConflictError(target);
    side.set(target, t);
  }
  const unmatched: string[] = [];
  for (const [name] of full) if (!base.tensor(name)) unmatched.push(name);
  for (const [target, t] of loraA) if (!base.tensor(target) || !loraB.has(target)) unmatched.push(t.name);
  for (const [target, t] of loraB) if (!base.tensor(target) || !loraA.has(target)) unmatched.push(t.name);
  if (unmatched.length > 0) throw new UnmatchedError(unmatched);

  const modifications = new Map<string, Modification>();
  for (const [name, delta] of full) {
    const target = base.tensor(name)!.info;
    if (loraA.has(name)) throw new DeltaConflictError(name);
    checkFloat(target);
    checkFloat(delta);
    if (!sameShape(target.shape, delta.shape)) {
      throw new ShapeError(name, `delta has shape [${delta.shape}], base has [${target.shape}]`);
    }
    modifications.set(name, { kind: 'full', delta });
  }
  const alphaText = pkg.metadata.lora_alpha;
  const alpha = alphaText === undefined ? undefined : Number(alphaText);
  if (alphaText !== undefined && (alphaText.trim() === '' || !Number.isFinite(alpha))) {
    throw new FormatError('invalid-metadata', `__metadata__.lora_alpha is ${JSON.stringify(alphaText)}, not a number`, {
      path: pkg.path,
    });
  }
  for (const [name, a] of loraA) {
    const b = loraB.get(name)!;
    const target = base.tensor(name)!.info;
    checkFloat(target);
    checkFloat(a);
    checkFloat(b);
    if (target.shape.length !== 2 || a.shape.length !== 2 || b.shape.length !== 2) {
      throw new ShapeError(name, `LoRA needs 2-D tensors: base [${target.shape}], A [${a.shape}], B [${b.shape}]`);
    }
    const [out, inner] = target.shape;
    const [rank, aCols] = a.shape;
    const [bRows, bRank] = b.shape;
    if (rank < 1 || aCols !== inner || bRows !== out || bRank !== rank) {
      throw new ShapeError(
        name,
        `LoRA A [${a.shape}] and B [${b.shape}] do not make [${target.shape}] (expected A [r, ${inner}], B [${out}, r], r >= 1)`,
      );
    }
    modifications.set(name, { kind: 'lora', a, b, rank, scale: (alpha ?? rank) / rank });
  }

  const byLayer = new Map<number, ModelTensor[]>();
  const outside: ModelTensor[] = [];
  for (const t of base.tensors) {
    const index = layerIndexOf(t.name);
    if (index === undefined) outside.push(t);
    else byLayer.set(index, [...(byLayer.get(index) ?? []), t]);
  }
  const indices = [...byLayer.keys()].sort((x, y) => x - y);
  if (layers) {
    const missing = layers.filter((l) => !byLayer.has(l));
    if (missing.length > 0) {
      throw new RangeError(
        `layers ${missing.join(', ')} are not in the base (it has ${indices.length ? `${indices[0]}..${indices.at(-1)}` : 'no layers'})`,
      );
    }
  }
  const wanted = layers ? new Set(layers) : undefined;
  const plans: LayerPlan[] = indices.map((index) => ({
    index,
    tensors: byLayer.get(index)!,
    selected: wanted ? wanted.has(index) : true,
  }));
  if (plans.length === 0) plans.push({ index: 0, tensors: [], selected: wanted === undefined });
  // Tensors outside blocks count toward the final chunk; they are modified only when no subset was asked for.
  const last = plans.at(-1)!;
  plans[plans.length - 1] = { ...last, tensors: [...last.tensors, ...outside] };
  return {
    layers: plans,
    modifications: new Map([...modifications].filter(([name]) => isSelected(name, plans, wanted))),
  };
}

function isSelected(name: string, plans: readonly LayerPlan[], wanted: Set<number> | undefined): boolean {
  if (!wanted) return true;
  const index = layerIndexOf(name);
  return index !== undefined && wanted.has(index) && plans.some((p) => p.index === index);
}

function checkFloat(t: TensorInfo): void {
  if (!isFloatDtype(t.dtype)) throw new DtypeError(t.name, t.dtype);
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Running f64 sums of one layer or of the whole run. */
interface Sums {
  sumDelta2: number;
  dot: number;
  normW2: number;
  normOut2: number;
  changed: boolean;
}

const emptySums = (): Sums => ({ sumDelta2: 0, dot: 0, normW2: 0, normOut2: 0, changed: false });

function addSums(into: Sums, s: BlockStats | Sums): void {
  into.sumDelta2 += s.sumDelta2;
  into.dot += s.dot;
  into.normW2 += s.normW2;
  into.normOut2 += s.normOut2;
  into.changed ||= s.changed;
}

/** Cosine of the weights before and after; exactly 1 when nothing changed. */
function cosine(s: Sums): number {
  if (!s.changed) return 1;
  if (s.normW2 === 0 || s.normOut2 === 0) return s.normW2 === s.normOut2 ? 1 : 0;
  const product = s.normW2 * s.normOut2;
  const norms = Number.isFinite(product) ? Math.sqrt(product) : Math.sqrt(s.normW2) * Math.sqrt(s.normOut2);
  return Math.min(1, Math.max(-1, s.dot / norms));
}

let liveWorkers = 0;

/** Number of align workers currently running in this thread (0 when every alignment has finished or stopped). */
export function alignWorkerCount(): number {
  return liveWorkers;
}

interface WorkerReply {
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
interface Slot {
  readonly w: number;
  readonly d: number;
}

/**
 * The memory of the blocks in flight: one shared WebAssembly.Memory that the workers read into and compute in (their
 * SIMD kernel imports it) and the main thread writes from. Worker `i` owns 64 bytes at `statsAt(i)` for its sums.
 */
interface Arena {
  readonly memory: WebAssembly.Memory;
  readonly slots: Slot[];
  statsAt(worker: number): number;
  /** A view of `length` bytes at `at`. */
  view(at: number, length: number): Uint8Array;
}

const roundUp = (n: number, to: number) => Math.ceil(n / to) * to;

function createArena(depth: number, blockBytes: number, workers: number): Arena {
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

interface AlignWorker {
  call(message: Record<string, unknown>, transfer: ArrayBuffer[]): Promise<WorkerReply>;
  post(message: Record<string, unknown>, transfer?: ArrayBuffer[]): void;
  terminate(): Promise<void>;
  /** Blocks sent and not yet answered. */
  readonly busy: number;
}

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
function startWorkers(count: number, arena: Arena): AlignWorker {
  const workers = Array.from({ length: count }, (_, i) => startWorker(arena.memory, arena.statsAt(i)));
  return {
    call(message, transfer) {
      let best = workers[0];
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

/** Bytes written through the page cache between two background flushes (so the disk works while the worker computes). */
const FLUSH_EVERY = 8 * 1024 * 1024;
/** Direct writes (O_DIRECT) need file offsets, lengths and memory addresses that are multiples of this. */
const PAGE = 4096;
/** Blocks of at least this many bytes are cut at page boundaries of the output so that they can be written directly. */
const DIRECT_MIN_BLOCK = 64 * 1024;
/** O_DIRECT where the platform has it (Linux), else 0 (no direct writes). */
const O_DIRECT: number = fsConstants.O_DIRECT ?? 0;

const alignDown = (n: number) => n - (n % PAGE);
const alignUp = (n: number) => alignDown(n + PAGE - 1);

/**
 * Where one base file's tensors go: the partial output, opened twice: a plain handle, and (where the file system
 * takes O_DIRECT) a direct one. Whole pages of a block go straight from the arena to the disk: no copy into the
 * page cache, nothing left to flush at the fsync; the unaligned ends of blocks and the header go through the page
 * cache. Both write disjoint pages, so they never race on one. The final fsync covers both.
 */
interface OutputFile {
  readonly handle: FileHandle;
  readonly dataStart: number;
  /** True while direct writes work on this file (else every write goes through the page cache). */
  readonly direct: boolean;
  /** Writes all of `bytes` at `position`. */
  write(bytes: Uint8Array, position: number): Promise<void>;
  /** The background flushes still running (awaited before the final fsync and before closing). */
  flushed(): Promise<void>;
  /** Waits for the flushes and closes both handles. */
  close(): Promise<void>;
}

function outputFile(handle: FileHandle, directHandle: FileHandle | undefined, dataStart: number): OutputFile {
  let unflushed = 0;
  let flushing: Promise<void> = Promise.resolve();
  let direct = directHandle;
  const buffered = async (bytes: Uint8Array, position: number) => {
    await writeFully(handle, bytes, position);
    unflushed += bytes.length;
    if (unflushed < FLUSH_EVERY) return;
    unflushed = 0;
    flushing = flushing.then(() => handle.datasync());
    flushing.catch(noop);
  };
  /** Whole pages, straight to the disk; what a refused or short direct write leaves goes through the page cache. */
  const straight = async (bytes: Uint8Array, position: number) => {
    let done = 0;
    try {
      while (direct && done < bytes.length) {
        const { bytesWritten } = await direct.write(bytes, done, bytes.length - done, position + done);
        done += bytesWritten;
        if (bytesWritten === 0 || done % PAGE !== 0) break;
      }
    } catch (error) {
      // EINVAL: this file system or device refuses these direct writes; the page cache takes the rest of the file.
      if ((error as NodeJS.ErrnoException).code !== 'EINVAL') throw error;
      direct = undefined;
    }
    if (done < bytes.length) await buffered(bytes.subarray(done), position + done);
  };
  return {
    handle,
    dataStart,
    get direct() {
      return direct !== undefined;
    },
    async write(bytes, position) {
      const end = position + bytes.length;
      const from = alignUp(position);
      const to = alignDown(end);
      if (!direct || to - from < PAGE || (bytes.byteOffset + from - position) % PAGE !== 0) {
        return buffered(bytes, position);
      }
      await Promise.all([
        from > position ? buffered(bytes.subarray(0, from - position), position) : undefined,
        straight(bytes.subarray(from - position, to - position), from),
        end > to ? buffered(bytes.subarray(to - position), to) : undefined,
      ]);
    },
    flushed: () => flushing,
    async close() {
      await flushing.then(noop, noop);
      await Promise.allSettled([handle.close(), directHandle?.close()]);
    },
  };
}

/** A second handle on `path` with O_DIRECT, or undefined where the platform or file system does not take it. */
async function openDirect(path: string): Promise<FileHandle | undefined> {
  if (O_DIRECT === 0) return undefined;
  return open(path, fsConstants.O_WRONLY | O_DIRECT).catch(() => undefined);
}

interface Output {
  readonly files: ReadonlyMap<SafetensorsFile, OutputFile>;
  commit(): Promise<void>;
  discard(): Promise<void>;
}

async function createOutput(base: WeightsModel, outputPath: string, metadata: Record<string, string>): Promise<Output> {
  const temp = partialPath(outputPath);
  const files = new Map<SafetensorsFile, OutputFile>();
  let committed = false;
  // The output's parent folder may not exist yet: create it, and remember the first folder made so that a failed
  // run can remove the (then empty) folders it made.
  const parent = dirname(outputPath);
  const madeFrom = await mkdir(parent, { recursive: true });
  const closeAll = () => Promise.allSettled([...files.values()].map((f) => f.close()));
  const output: Output = {
    files,
    async commit() {
      for (const f of files.values()) {
        await f.flushed();
        await f.handle.sync();
      }
      await closeAll();
      if (base.isFolder) {
        if (base.index) {
          const index = { ...base.index.raw, metadata: { ...base.index.metadata, ...metadata } };
          const indexPath = join(temp, INDEX_FILE);
          await writeFile(indexPath, `${JSON.stringify(index, null, 2)}\n`);
          const h = await open(indexPath, 'r+');
          await h.sync().finally(() => h.close());
        }
        await syncDir(temp);
        await replaceFolder(temp, outputPath);
      } else {
        await rename(temp, outputPath);
      }
      committed = true;
      await syncDir(dirname(outputPath));
    },
    async discard() {
      await closeAll();
      if (committed) return;
      await rm(temp, { recursive: true, force: true });
      if (madeFrom !== undefined) await removeEmptyFolders(parent, madeFrom);
    },
  };
  try {
    if (base.isFolder) await mkdir(temp);
    for (const file of base.files) {
      const path = base.isFolder ? join(temp, basename(file.path)) : temp;
      const handle = await open(path, 'wx');
      const direct = await openDirect(path).catch(async (error: unknown) => {
        await handle.close();
        throw error;
      });
      const header = encodeSafetensorsHeader(
        file.tensors,
        { ...file.metadata, ...metadata },
        {
          metadataIndex: file.header.metadataIndex,
        },
      );
      files.set(file, outputFile(handle, direct, header.length));
      await writeFully(handle, header, 0);
      await handle.truncate(header.length + file.header.dataSize);
    }
  } catch (error) {
    await output.discard();
    throw error;
  }
  return output;
}

/** Removes `from` and its parents up to `upTo` (both included) while they are empty; never a folder with files. */
async function removeEmptyFolders(from: string, upTo: string): Promise<void> {
  const stop = resolve(upTo);
  for (let folder = resolve(from); ; folder = dirname(folder)) {
    try {
      await rmdir(folder);
    } catch {
      return;
    }
    if (folder === stop || dirname(folder) === folder) return;
  }
}

/** Replaces the folder `target` by `source`: a folder cannot be renamed over a non-empty one, so the old one moves aside first. */
async function replaceFolder(source: string, target: string): Promise<void> {
  const existing = await stat(target).catch(() => undefined);
  if (!existing) return rename(source, target);
  const aside = partialPath(`${target}.old`);
  await rename(target, aside);
  try {
    await rename(source, target);
  } catch (error) {
    await rename(aside, target);
    throw error;
  }
  await rm(aside, { recursive: true, force: true });
}

/** One unit of work: a block of one tensor, copied or modified. */
interface Task {
  readonly tensor: ModelTensor;
  readonly out: OutputFile;
  /** First element (modified) or byte (copied) of the block within the tensor. */
  readonly first: number;
  readonly count: number;
  readonly modification?: Modification;
}

const noop = () => {};

/**
 * Applies a delta package to base weights and writes the result to `options.output`, yielding one AlignmentChunk
 * per layer in ascending order (the final one after the output was fsynced and renamed into place).
 * Everything is validated before the first byte is written; errors carry a `code` (E_FORMAT, E_UNMATCHED,
 * E_CONFLICT, E_SHAPE, E_DTYPE, E_NONFINITE); a bad strength is a RangeError. Stopping early (break, `signal`,
 * error) terminates the worker and deletes the partial output; an abort rejects with `signal.reason`.
 */
export async function* alignPackage(
  options: AlignPackageOptions,
  signal?: AbortSignal,
): AsyncGenerator<AlignmentChunk, void, undefined> {
  checkStrength(options.strength);
  checkLayers(options.layers);
  checkBlockBytes(options.blockBytes ?? DEFAULT_BLOCK_BYTES);
  const blockBytes = Math.min(options.blockBytes ?? DEFAULT_BLOCK_BYTES, MAX_BLOCK_BYTES);
  if (options.workers !== undefined && (!Number.isSafeInteger(options.workers) || options.workers < 1)) {
    throw new RangeError(`workers must be an integer >= 1, got ${options.workers}`);
  }
  signal?.throwIfAborted();
  const s = options.strength;
  const outputPath = resolve(options.output);
  if (outputPath === resolve(options.baseWeights) || outputPath === resolve(options.package)) {
    throw new WeightsError('E_OUTPUT', `output ${options.output} is one of the inputs`, {
      hint: 'write to a new path',
    });
  }
  let base: WeightsModel | undefined;
  let pkg: SafetensorsFile | undefined;
  let output: Output | undefined;
  let worker: AlignWorker | undefined;
  const onAbort = () => void worker?.terminate();
  signal?.addEventListener('abort', onAbort);
  try {
    const workers = options.workers ?? DEFAULT_ALIGN_WORKERS;
    const arena = createArena(PIPELINE_DEPTH, blockBytes, workers);
    // Started first: a worker takes tens of milliseconds to start, which then overlap the validation and first reads.
    worker = startWorkers(workers, arena);
    base = await openModel(options.baseWeights);
    pkg = await openSafetensors(options.package);
    const plan = resolvePlan(base, pkg, options.layers);
    signal?.throwIfAborted();
    if (plan.modifications.size === 0) {
      await worker.terminate();
      worker = undefined;
    }
    const metadata: Record<string, string> = {
      'alignment.package': options.package,
      'alignment.strength': String(s),
    };
    if (options.layers) metadata['alignment.layers'] = options.layers.join(',');
    output = await createOutput(base, outputPath, metadata);
    const total = emptySums();
    const totalLayers = plan.layers.length;
    const layers = runLayers(plan, pkg, output, worker, arena, { s, blockBytes, signal });
    for await (const { k, sums } of layers) {
      // Blocks of later layers may all be written already: an abort must still stop before the commit.
      signal?.throwIfAborted();
      const layer = plan.layers[k];
      addSums(total, sums);
      const chunk: AlignmentChunk = {
        layerIndex: layer.index,
        totalLayers,
        deltaNorm: Math.sqrt(sums.sumDelta2),
        progressPct: (100 * (k + 1)) / totalLayers,
        isFinal: k === totalLayers - 1,
      };
      if (chunk.isFinal) {
        await worker?.terminate();
        await output.commit();
        chunk.alignmentScore = cosine(total);
        chunk.outputPath = outputPath;
      }
      chunk.layerScore = cosine(sums);
      yield chunk;
    }
  } catch (error) {
    if (signal?.aborted) throw signal.reason;
    throw error;
  } finally {
    signal?.removeEventListener('abort', onAbort);
    await worker?.terminate();
    await output?.discard();
    await pkg?.close();
    await base?.close();
  }
}

interface LayerContext {
  readonly s: number;
  readonly blockBytes: number;
  readonly signal: AbortSignal | undefined;
}

/**
 * Runs the blocks of every layer, in order, through one bounded pipeline (a block in flight per slot of the arena)
 * that does not drain at layer boundaries: the next layer's blocks are read while the last ones of a layer are
 * computed and written. Yields each layer's sums (added in block order, so deterministic) once all its blocks are
 * written, in layer order. Returning early waits for the blocks in flight (never leave a read or write running on
 * a handle that the caller is about to close).
 */
async function* runLayers(
  plan: Plan,
  pkg: SafetensorsFile,
  output: Output,
  worker: AlignWorker | undefined,
  arena: Arena,
  ctx: LayerContext,
): AsyncGenerator<{ k: number; sums: Sums }, void, undefined> {
  /** Blocks in flight, in order, each followed by the end marker of its layer once the layer is scheduled. */
  const queue: ({ readonly block: Promise<BlockStats | undefined> } | { readonly end: number })[] = [];
  const pool = [...arena.slots];
  const depth = pool.length;
  let inFlight = 0;
  let sums = emptySums();
  const loraRefs = new Map<string, { refs: number; done: boolean }>();
  const release = (key: string) => {
    const ref = loraRefs.get(key)!;
    if (ref.refs === 0 && ref.done) {
      loraRefs.delete(key);
      worker?.post({ type: 'drop', key });
    }
  };
  /** Settles the oldest blocks until fewer than `limit` are in flight, yielding the layers they complete. */
  async function* settle(limit: number) {
    while (queue.length > 0 && (inFlight >= limit || 'end' in queue[0])) {
      const head = queue.shift()!;
      if ('end' in head) {
        const done = { k: head.end, sums };
        sums = emptySums();
        yield done;
        continue;
      }
      inFlight--;
      const stats = await head.block;
      if (stats) addSums(sums, stats);
    }
  }
  try {
    for (const [k, layer] of plan.layers.entries()) {
      for (const tensor of layer.tensors) {
        const modification = layer.selected ? plan.modifications.get(tensor.name) : undefined;
        const out = output.files.get(tensor.file)!;
        const [begin, end] = tensor.info.dataOffsets;
        if (modification?.kind === 'lora') {
          const a = decodeFloats(modification.a.dtype, await pkg.read(modification.a));
          loraRefs.set(tensor.name, { refs: 0, done: false });
          worker!.post(
            {
              type: 'lora',
              key: tensor.name,
              a: a.buffer,
              r: modification.rank,
              cols: tensor.info.shape[1],
              scale: modification.scale,
            },
            [a.buffer],
          );
        }
        const unit = modification ? dtypeBytes(tensor.info.dtype) : 1;
        const length = (end - begin) / unit;
        const deltaBytes = modification?.kind === 'full' ? dtypeBytes(modification.delta.dtype) : 0;
        const step = Math.max(1, Math.floor(ctx.blockBytes / Math.max(unit, deltaBytes)));
        // Large blocks end at page boundaries of the output file, so that all their whole pages can go straight to
        // the disk (the first block of a tensor is a little shorter).
        const fileStart = out.dataStart + begin;
        const paged = out.direct && step * unit >= DIRECT_MIN_BLOCK && fileStart % unit === 0;
        for (let first = 0, count = 0; first < length; first += count) {
          const at = fileStart + first * unit;
          count = Math.min(length - first, paged ? (alignDown(at + step * unit) - at) / unit : step);
          yield* settle(depth);
          ctx.signal?.throwIfAborted();
          const task: Task = { tensor, out, first, count, modification };
          const ref = loraRefs.get(tensor.name);
          if (ref) ref.refs++;
          const block = runTask(task, pkg, worker, arena, pool, ctx.s).finally(() => {
            if (ref) {
              ref.refs--;
              release(tensor.name);
            }
          });
          block.catch(noop);
          queue.push({ block });
          inFlight++;
        }
        const ref = loraRefs.get(tensor.name);
        if (ref) {
          ref.done = true;
          release(tensor.name);
        }
      }
      queue.push({ end: k });
    }
    yield* settle(1);
  } finally {
    await Promise.allSettled(queue.map((entry) => ('block' in entry ? entry.block : undefined)));
  }
}

/**
 * One block, through its slot: the worker reads the base bytes (and the delta's) straight into the slot with
 * positional reads of its own (synchronous there: they cost the event loop nothing and leave the libuv threads to
 * the writes), modifies the weights in place and answers with the sums; the main thread then writes the slot out.
 * Without a worker (nothing to modify), the main thread reads.
 */
async function runTask(
  task: Task,
  pkg: SafetensorsFile,
  worker: AlignWorker | undefined,
  arena: Arena,
  pool: Slot[],
  s: number,
): Promise<BlockStats | undefined> {
  const slot = pool.pop()!;
  try {
    const { tensor, out, first, count, modification } = task;
    const [begin] = tensor.info.dataOffsets;
    const file = tensor.file;
    if (!modification) {
      const at = out.dataStart + begin + first;
      const wAt = slot.w + (at % PAGE);
      if (worker) {
        const reads = [file.fd, file.header.dataStart + begin + first, count, wAt];
        await worker.call({ type: 'read', reads }, []);
      } else {
        await file.read(tensor.info, first, count, arena.view(wAt, count));
      }
      await out.write(arena.view(wAt, count), at);
      return undefined;
    }
    const dtype = tensor.info.dtype as FloatDtype;
    const size = dtypeBytes(dtype);
    const at = out.dataStart + begin + first * size;
    // At the output's page offset (for direct writes), unless that would misalign the elements.
    const wAt = slot.w + (at % size === 0 ? at % PAGE : 0);
    const reads = [file.fd, file.header.dataStart + begin + first * size, count * size, wAt];
    let reply: WorkerReply;
    if (modification.kind === 'full') {
      const delta = modification.delta;
      const dSize = dtypeBytes(delta.dtype);
      reads.push(pkg.fd, pkg.header.dataStart + delta.dataOffsets[0] + first * dSize, count * dSize, slot.d);
      const message = { type: 'apply', reads, dtype, wAt, count, s, dAt: slot.d, dDtype: delta.dtype };
      reply = await worker!.call(message, []);
    } else {
      const cols = tensor.info.shape[1];
      const firstRow = Math.floor(first / cols);
      const lastRow = Math.floor((first + count - 1) / cols);
      const bSize = dtypeBytes(modification.b.dtype);
      const r = modification.rank;
      const bBytes = await pkg.read(modification.b, firstRow * r * bSize, (lastRow - firstRow + 1) * r * bSize);
      const b = decodeFloats(modification.b.dtype, bBytes);
      const message = { type: 'apply', reads, key: tensor.name, dtype, wAt, count, s, b: b.buffer, first, firstRow };
      reply = await worker!.call(message, [b.buffer]);
    }
    const { stats } = reply;
    if (stats.nonFiniteAt >= 0) {
      throw new NonFiniteError(tensor.name, first + stats.nonFiniteAt, stats.before, stats.after);
    }
    await out.write(arena.view(wAt, count * size), at);
    return stats;
  } finally {
    pool.push(slot);
  }
}

/** Options of the `align` processor (API.md section 3). */
export interface AlignOptions {
  /** A `.safetensors` file, or a folder with `model.safetensors.index.json` (sharded) or `model.safetensors`. */
  readonly baseWeights: string;
  /** Finite, 0 <= strength <= 2; else RangeError (thrown by `align()` itself). */
  readonly strength: number;
  /** Output path, or a function of the package path (to align several packages in one run). */
  readonly output: string | ((packagePath: string) => string);
  /** Block indices to modify; others (and tensors outside blocks) are copied unchanged. Default: all. */
  readonly layers?: readonly number[];
  /**
   * Bytes of base weights per block (>= 64; larger than 64 MiB is used as 64 MiB). Memory is about 16 blocks:
   * 8 in flight, weights and deltas. Default 1 MiB.
   */
  readonly blockBytes?: number;
  /** Worker threads reading blocks and doing the arithmetic. Default 1 (DEFAULT_ALIGN_WORKERS). */
  readonly workers?: number;
}

/** The `path` of an align input part: a delta package. */
const AlignInputSchema = z.object({ path: z.string().min(1) });

/**
 * True for the parts `align` takes: a JSON part with a string `path` (`jsonPart({ path })`), or a successful
 * DownloadResult part. A failed DownloadResult does not match, so it passes through to the output unchanged.
 */
export function isAlignInput(part: Part): boolean {
  const type = jsonTypeOf(part.mimetype);
  if (type === undefined || (type !== '' && type !== 'DownloadResult' && type !== 'AlignRequest')) return false;
  const value = jsonObjectOf(part);
  if (!value || typeof value.path !== 'string') return false;
  return type !== 'DownloadResult' || value.success === true;
}

/**
 * A part processor applying each delta package part (`jsonPart({ path })` or a DownloadResult part) to
 * `baseWeights`, emitting one `jsonPart(chunk, { type: 'AlignmentChunk' })` per layer in ascending order, the final
 * one after the output was renamed into place. Packages are aligned one at a time, in input order; other parts pass
 * through. Errors (codes as in `alignPackage`) end the run; stopping the run terminates the worker and deletes the
 * partial output. Options are checked at once: a bad strength throws RangeError here.
 */
export function align(options: AlignOptions): PartProcessor {
  checkStrength(options.strength);
  checkLayers(options.layers);
  if (options.blockBytes !== undefined) checkBlockBytes(options.blockBytes);
  if (typeof options.baseWeights !== 'string' || options.baseWeights === '') {
    throw new TypeError('align: baseWeights must be a path');
  }
  if (typeof options.output !== 'string' && typeof options.output !== 'function') {
    throw new TypeError('align: output must be a path or a function of the package path');
  }
  return partProcessor(
    async function* alignOne(part: Part, ctx: Context) {
      const { path } = readJSON(part, AlignInputSchema);
      const output = typeof options.output === 'function' ? options.output(path) : options.output;
      const run = alignPackage(
        {
          baseWeights: options.baseWeights,
          package: path,
          strength: options.strength,
          output,
          layers: options.layers,
          blockBytes: options.blockBytes,
          workers: options.workers,
        },
        ctx.signal,
      );
      for await (const chunk of run) yield jsonPart(chunk, { type: 'AlignmentChunk', metadata: { package: path } });
    },
    // lazy: each chunk is pulled only when the consumer asks for it, so a consumer that stops after
    // a chunk stops the alignment before the final rename (no finished output is left behind).
    { name: 'align', match: isAlignInput, concurrency: 1, lazy: true },
  );
}
