// The block pipeline of `align`: `alignPackage` opens the base and the package, makes the plan (plan.ts), starts
// the workers (workers.ts) and the partial output (output.ts), then runs every tensor through the arena block by
// block and yields one AlignmentChunk per layer, the last after the commit. A block per slot of the arena is in
// flight, across layer boundaries, so reading, computing and writing overlap; memory is the arena plus the LoRA A
// matrices in flight, whatever the model size.

import { resolve } from 'node:path';
import { WeightsError } from '../safetensors/errors.ts';
import {
  decodeFloats,
  dtypeBytes,
  type FloatDtype,
  type ModelTensor,
  openModel,
  openSafetensors,
  type SafetensorsFile,
  type WeightsModel,
} from '../safetensors/index.ts';
import type { AlignmentChunk } from './align.ts';
import type { BlockStats } from './align-kernel.js';
import { NonFiniteError } from './errors.ts';
import { alignDown, createOutput, DIRECT_MIN_BLOCK, type Output, type OutputFile, PAGE } from './output.ts';
import { checkBlockBytes, checkLayers, checkStrength, type Modification, type Plan, resolvePlan } from './plan.ts';
import { addSums, cosine, emptySums, type Sums } from './sums.ts';
import {
  type AlignWorker,
  type Arena,
  createArena,
  DEFAULT_ALIGN_WORKERS,
  type Slot,
  startWorkers,
  type WorkerReply,
} from './workers.ts';

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
      const layer = plan.layers[k]!;
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
    while (queue.length > 0 && (inFlight >= limit || 'end' in queue[0]!)) {
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
      const cols = tensor.info.shape[1]!;
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
