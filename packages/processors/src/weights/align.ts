// `align`: streams a weight delta (full tensors or LoRA pairs) into a copy of
// the base weights, one AlignmentChunk per layer (WEIGHTS.md, "align").
// The main thread only does positional I/O and bookkeeping; the arithmetic
// runs in align-worker.js, blocks travelling as transferred ArrayBuffers, a few
// blocks in flight so reading, computing and writing overlap. Memory is a few
// blocks plus the LoRA A matrices in flight, whatever the model size.

import { type FileHandle, mkdir, open, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { type Context, jsonPart, type Part, type PartProcessor, partProcessor, readJSON } from '@sluice/core';
import { z } from 'zod';
import type { BlockStats } from './align-kernel.js';
import {
  DeltaConflictError,
  DtypeError,
  FormatError,
  NonFiniteError,
  ShapeError,
  UnmatchedError,
  WeightsError,
} from './errors.ts';
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
  /** Bytes of base weights per block; peak memory is a few blocks. Default 1 MiB. */
  readonly blockBytes?: number;
  /** Worker threads doing the arithmetic. Default 1 (DEFAULT_ALIGN_WORKERS). */
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
  stats: BlockStats;
  w: ArrayBuffer;
  d?: ArrayBuffer;
  b?: ArrayBuffer;
}

interface AlignWorker {
  call(message: Record<string, unknown>, transfer: ArrayBuffer[]): Promise<WorkerReply>;
  post(message: Record<string, unknown>, transfer?: ArrayBuffer[]): void;
  terminate(): Promise<void>;
  /** Blocks sent and not yet answered. */
  readonly busy: number;
}

function startWorker(): AlignWorker {
  const worker = new Worker(new URL('./align-worker.js', import.meta.url));
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
    else p.reject(new Error(`align worker: ${reply.message}`));
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
 * Default number of align workers: one. More (the `workers` option, up to the core count) can help on an idle
 * machine with many cores, but on two cores they compete with the event loop that alignment must keep free.
 */
export const DEFAULT_ALIGN_WORKERS = 1;

/**
 * Several workers behind one AlignWorker: each block goes to the least busy one; `post` (LoRA matrices, drops)
 * goes to all. Which worker computed a block does not matter: the sums are reduced in block order.
 */
function startWorkers(count: number): AlignWorker {
  const workers = Array.from({ length: count }, startWorker);
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

/** Bytes written to an output file between two background flushes (so the disk works while the worker computes). */
const FLUSH_EVERY = 8 * 1024 * 1024;

/** Where one base file's tensors go: an open handle on the partial output and where its data starts. */
interface OutputFile {
  readonly handle: FileHandle;
  readonly dataStart: number;
  /** Records `bytes` written; starts a background datasync every FLUSH_EVERY bytes. */
  written(bytes: number): void;
  /** The background flushes still running (awaited before the final fsync and before closing). */
  flushed(): Promise<void>;
}

function outputFile(handle: FileHandle, dataStart: number): OutputFile {
  let unflushed = 0;
  let flushing: Promise<void> = Promise.resolve();
  return {
    handle,
    dataStart,
    written(bytes) {
      unflushed += bytes;
      if (unflushed < FLUSH_EVERY) return;
      unflushed = 0;
      flushing = flushing.then(() => handle.datasync());
      flushing.catch(() => {});
    },
    flushed: () => flushing,
  };
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
  const closeAll = () =>
    Promise.allSettled(
      [...files.values()].map((f) =>
        f
          .flushed()
          .then(noop, noop)
          .then(() => f.handle.close()),
      ),
    );
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
      if (!committed) await rm(temp, { recursive: true, force: true });
    },
  };
  try {
    if (base.isFolder) await mkdir(temp);
    for (const file of base.files) {
      const path = base.isFolder ? join(temp, basename(file.path)) : temp;
      const handle = await open(path, 'wx');
      const header = encodeSafetensorsHeader(
        file.tensors,
        { ...file.metadata, ...metadata },
        {
          metadataIndex: file.header.metadataIndex,
        },
      );
      files.set(file, outputFile(handle, header.length));
      await writeFully(handle, header, 0);
      await handle.truncate(header.length + file.header.dataSize);
    }
  } catch (error) {
    await output.discard();
    throw error;
  }
  return output;
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

async function syncDir(path: string): Promise<void> {
  const handle = await open(path, 'r').catch(() => undefined);
  if (!handle) return;
  await handle
    .sync()
    .catch(() => {})
    .finally(() => handle.close());
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

interface BufferSet {
  w: ArrayBuffer;
  d: ArrayBuffer;
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
  const blockBytes = options.blockBytes ?? DEFAULT_BLOCK_BYTES;
  checkBlockBytes(blockBytes);
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
    base = await openModel(options.baseWeights);
    pkg = await openSafetensors(options.package);
    const plan = resolvePlan(base, pkg, options.layers);
    signal?.throwIfAborted();
    const metadata: Record<string, string> = {
      'alignment.package': options.package,
      'alignment.strength': String(s),
    };
    if (options.layers) metadata['alignment.layers'] = options.layers.join(',');
    output = await createOutput(base, outputPath, metadata);
    const workers = options.workers ?? DEFAULT_ALIGN_WORKERS;
    if (plan.modifications.size > 0) worker = startWorkers(workers);
    const pool: BufferSet[] = Array.from({ length: PIPELINE_DEPTH }, () => ({
      w: new ArrayBuffer(blockBytes),
      d: new ArrayBuffer(blockBytes),
    }));
    const total = emptySums();
    const totalLayers = plan.layers.length;
    for (const [k, layer] of plan.layers.entries()) {
      const sums = emptySums();
      await runLayer(layer, plan, pkg, output, worker, pool, { s, blockBytes, sums, signal });
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
  readonly sums: Sums;
  readonly signal: AbortSignal | undefined;
}

/** Runs every block of one layer through a bounded pipeline; sums are added in block order, so they are deterministic. */
async function runLayer(
  layer: LayerPlan,
  plan: Plan,
  pkg: SafetensorsFile,
  output: Output,
  worker: AlignWorker | undefined,
  pool: BufferSet[],
  ctx: LayerContext,
): Promise<void> {
  const inFlight: Promise<BlockStats | undefined>[] = [];
  const results: (BlockStats | undefined)[] = [];
  const loraRefs = new Map<string, { refs: number; done: boolean }>();
  const release = (key: string) => {
    const ref = loraRefs.get(key)!;
    if (ref.refs === 0 && ref.done) {
      loraRefs.delete(key);
      worker?.post({ type: 'drop', key });
    }
  };
  const settleOldest = async () => {
    results.push(await inFlight.shift()!);
  };
  try {
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
      for (let first = 0; first < length; first += step) {
        while (inFlight.length >= PIPELINE_DEPTH) await settleOldest();
        ctx.signal?.throwIfAborted();
        const task: Task = { tensor, out, first, count: Math.min(step, length - first), modification };
        const ref = loraRefs.get(tensor.name);
        if (ref) ref.refs++;
        const p = runTask(task, pkg, worker, pool, ctx.s).finally(() => {
          if (ref) {
            ref.refs--;
            release(tensor.name);
          }
        });
        p.catch(noop);
        inFlight.push(p);
      }
      const ref = loraRefs.get(tensor.name);
      if (ref) {
        ref.done = true;
        release(tensor.name);
      }
    }
    while (inFlight.length > 0) await settleOldest();
  } finally {
    // Never leave a read or write running on a handle that the caller is about to close.
    await Promise.allSettled(inFlight);
  }
  for (const stats of results) if (stats) addSums(ctx.sums, stats);
}

async function runTask(
  task: Task,
  pkg: SafetensorsFile,
  worker: AlignWorker | undefined,
  pool: BufferSet[],
  s: number,
): Promise<BlockStats | undefined> {
  const set = pool.pop()!;
  try {
    const { tensor, out, first, count, modification } = task;
    const [begin] = tensor.info.dataOffsets;
    if (!modification) {
      const bytes = await tensor.file.read(tensor.info, first, count, new Uint8Array(set.w, 0, count));
      await writeFully(out.handle, bytes, out.dataStart + begin + first);
      out.written(count);
      return undefined;
    }
    const dtype = tensor.info.dtype as FloatDtype;
    const size = dtypeBytes(dtype);
    const w = new Uint8Array(set.w, 0, count * size);
    let reply: WorkerReply;
    if (modification.kind === 'full') {
      const dSize = dtypeBytes(modification.delta.dtype);
      await Promise.all([
        tensor.file.read(tensor.info, first * size, count * size, w),
        pkg.read(modification.delta, first * dSize, count * dSize, new Uint8Array(set.d, 0, count * dSize)),
      ]);
      const message = { type: 'apply', dtype, w: set.w, count, s, d: set.d, dDtype: modification.delta.dtype };
      reply = await worker!.call(message, [set.w, set.d]);
      set.d = reply.d!;
    } else {
      const cols = tensor.info.shape[1];
      const firstRow = Math.floor(first / cols);
      const lastRow = Math.floor((first + count - 1) / cols);
      const bSize = dtypeBytes(modification.b.dtype);
      const r = modification.rank;
      const [, bBytes] = await Promise.all([
        tensor.file.read(tensor.info, first * size, count * size, w),
        pkg.read(modification.b, firstRow * r * bSize, (lastRow - firstRow + 1) * r * bSize),
      ]);
      const b = decodeFloats(modification.b.dtype, bBytes);
      const message = { type: 'apply', key: tensor.name, dtype, w: set.w, count, s, b: b.buffer, first, firstRow };
      reply = await worker!.call(message, [set.w, b.buffer]);
    }
    set.w = reply.w;
    const { stats } = reply;
    if (stats.nonFiniteAt >= 0) {
      throw new NonFiniteError(tensor.name, first + stats.nonFiniteAt, stats.before, stats.after);
    }
    await writeFully(out.handle, new Uint8Array(set.w, 0, count * size), out.dataStart + begin + first * size);
    out.written(count * size);
    return stats;
  } finally {
    pool.push(set);
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
  /** Bytes of base weights per block; peak memory is a few blocks. Default 1 MiB. */
  readonly blockBytes?: number;
  /** Worker threads doing the arithmetic. Default 1 (DEFAULT_ALIGN_WORKERS). */
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
        },
        ctx.signal,
      );
      for await (const chunk of run) yield jsonPart(chunk, { type: 'AlignmentChunk', metadata: { package: path } });
    },
    { name: 'align', match: isAlignInput, concurrency: 1 },
  );
}
