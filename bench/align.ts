/**
 * Scenario: `align` on 256 MiB models (F32, then BF16; a full delta of the same dtype and size), against
 * the memory-bandwidth bound: a plain Float32Array `w[i] += s * d[i]` loop over the same
 * number of bytes (256 MiB of weights), in memory, in the same run.
 *   align F32 / align BF16   alignPackage(): read base + delta blocks, worker arithmetic, write, fsync, rename
 *                            (default options: one worker), then the same with `workers: 2`
 *   baseline                 for (i) w[i] += s * d[i] over 64 Mi floats
 * Where the time goes, each timed alone, the way align does it:
 *   read          positional reads of base and delta (F32) in blocks (page cache warm), no arithmetic
 *   kernel F32    the worker's arithmetic (the WebAssembly SIMD kernel, align-simd.wat) in place in shared
 *   kernel BF16   WebAssembly memory, 256 MiB of weights, one thread
 *   kernel F32, JS   the same blocks through the plain JavaScript kernel (align-kernel.js, which the worker uses
 *   kernel BF16, JS  for F16, mixed dtypes and LoRA): the SIMD kernel's speed-up over it is the reason it exists
 *   write         256 MiB from shared WebAssembly memory to a new file in blocks, 8 in flight, straight to
 *                 the disk (O_DIRECT, as align does where it can), then fsync
 *   worker start  starting an align worker and its first (empty) answer, then terminating it
 * Each run's output file is moved aside (a rename) and all of them are deleted after the last repetition:
 * deleting 256 MiB (~50 ms here) is the file system's work, not align's, and its discards would land on whichever
 * subject runs next. So the temp folder grows to about 1 GiB + (reps + 1) x 1.25 GiB (7.5 GiB at 5 reps).
 * Targets: align F32 >= 0.5x the baseline's throughput, align BF16 >= 0.3x.
 *
 *   pnpm exec tsx bench/align.ts            (BENCH_REPS=5 by default; BENCH_ALIGN_BLOCK_MIB=1)
 *   BENCH_ALIGN_KERNELS=1 pnpm exec tsx bench/align.ts   the four kernel subjects only (no files, no align runs)
 */
import { constants as fsConstants } from 'node:fs';
import { mkdir, mkdtemp, open, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { applyBlock, createScratch } from '../packages/processors/src/align/align-kernel.js';
import { createSharedSimdKernel, sharedKernelModule } from '../packages/processors/src/align/align-simd.js';
import { alignPackage } from '../packages/processors/src/align/index.ts';
import {
  encodeSafetensorsHeader,
  layoutTensors,
  openSafetensors,
} from '../packages/processors/src/safetensors/index.ts';
import {
  check,
  compare,
  envInt,
  fmt,
  isMain,
  machine,
  median,
  pairedRatio,
  ratio,
  report,
  type Subject,
} from './harness.ts';

const MiB = 1024 * 1024;
const LAYERS = 64;
const MODEL_BYTES = 256 * MiB;
const REPS = envInt('BENCH_REPS', 5);
const BLOCK = envInt('BENCH_ALIGN_BLOCK_MIB', 1) * MiB;
/** 1: time the kernels only (SIMD and JS), without the fixtures and the align runs. */
const KERNELS_ONLY = envInt('BENCH_ALIGN_KERNELS', 0) === 1;
/** 1: align F32 and BF16 and the parts of their floor only (no 2-worker runs, no JS kernels, no worker start). */
const FLOOR_ONLY = envInt('BENCH_ALIGN_FLOOR', 0) === 1;

/** Writes a model of LAYERS tensors of 4 MiB each, filled by `fill` into one reused buffer. */
async function writeModel(path: string, dtype: 'F32' | 'BF16', fill: (layer: number, bytes: Uint8Array) => void) {
  const cols = dtype === 'F32' ? 1024 : 2048;
  const tensors = layoutTensors(
    Array.from({ length: LAYERS }, (_, i) => ({ name: `model.layers.${i}.mlp.weight`, dtype, shape: [1024, cols] })),
  );
  const header = encodeSafetensorsHeader(tensors);
  const handle = await open(path, 'w');
  const bytes = new Uint8Array(MODEL_BYTES / LAYERS);
  try {
    await handle.write(header, 0, header.length, 0);
    for (let layer = 0; layer < LAYERS; layer++) {
      fill(layer, bytes);
      await handle.write(bytes, 0, bytes.length, header.length + layer * bytes.length);
    }
  } finally {
    await handle.close();
  }
}

function fillF32(seed: number) {
  return (layer: number, bytes: Uint8Array) => {
    const v = new Float32Array(bytes.buffer);
    for (let i = 0; i < v.length; i++) v[i] = (((i * 31 + layer * 7 + seed) % 997) - 498) / 4096;
  };
}

function fillBf16(seed: number) {
  return (layer: number, bytes: Uint8Array) => {
    const v = new Uint16Array(bytes.buffer);
    const f = new Float32Array(1);
    const u = new Uint32Array(f.buffer);
    for (let i = 0; i < v.length; i++) {
      f[0] = (((i * 31 + layer * 7 + seed) % 997) - 498) / 4096;
      v[i] = u[0] >>> 16;
    }
  };
}

async function main() {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-bench-align-'));
  try {
    const paths = {
      f32: join(dir, 'base-f32.safetensors'),
      f32Delta: join(dir, 'delta-f32.safetensors'),
      bf16: join(dir, 'base-bf16.safetensors'),
      bf16Delta: join(dir, 'delta-bf16.safetensors'),
    };
    if (!KERNELS_ONLY) {
      process.stderr.write('writing 4 x 256 MiB of fixtures...\n');
      await writeModel(paths.f32, 'F32', fillF32(1));
      await writeModel(paths.f32Delta, 'F32', fillF32(2));
      await writeModel(paths.bf16, 'BF16', fillBf16(1));
      await writeModel(paths.bf16Delta, 'BF16', fillBf16(2));
    }

    const w = new Float32Array(MODEL_BYTES / 4);
    const d = new Float32Array(MODEL_BYTES / 4);
    fillF32(1)(0, new Uint8Array(w.buffer));
    fillF32(2)(0, new Uint8Array(d.buffer));
    const s = 0.5;

    // Outputs are moved here (untimed deletion at the end).
    const trash = join(dir, 'trash');
    await mkdir(trash);
    let runs = 0;
    const moveAside = (path: string) => rename(path, join(trash, `${runs++}`));

    const alignRun = (base: string, delta: string, workers?: number) => async () => {
      const output = join(dir, 'out.safetensors');
      for await (const chunk of alignPackage({
        baseWeights: base,
        package: delta,
        strength: s,
        output,
        blockBytes: BLOCK,
        workers,
      })) {
        if (chunk.isFinal && !(chunk.alignmentScore! < 1)) throw new Error('nothing changed');
      }
      await moveAside(output);
    };

    const readOnly = (dtype: 'F32' | 'BF16') => async () => {
      const base = await openSafetensors(dtype === 'F32' ? paths.f32 : paths.bf16);
      const delta = await openSafetensors(dtype === 'F32' ? paths.f32Delta : paths.bf16Delta);
      const a = new Uint8Array(BLOCK);
      const b = new Uint8Array(BLOCK);
      try {
        for (const t of base.tensors) {
          const size = t.dataOffsets[1] - t.dataOffsets[0];
          for (let at = 0; at < size; at += BLOCK) {
            const n = Math.min(BLOCK, size - at);
            await Promise.all([base.read(t, at, n, a), delta.read(t.name, at, n, b)]);
          }
        }
      } finally {
        await base.close();
        await delta.close();
      }
    };

    // The kernel as the worker runs it: in place in a shared WebAssembly memory holding 256 MiB of weights and
    // 256 MiB of deltas per dtype (F32 at 0, BF16 after), in blocks of BLOCK bytes of weights.
    const memory = new WebAssembly.Memory({ initial: 16385, maximum: 16385, shared: true });
    const stats = 4 * MODEL_BYTES; // 64 bytes for this thread's sums, 64 for the worker's
    new Uint8Array(memory.buffer, 0, MODEL_BYTES).set(new Uint8Array(w.buffer));
    new Uint8Array(memory.buffer, MODEL_BYTES, MODEL_BYTES).set(new Uint8Array(d.buffer));
    const layerBytes = new Uint8Array(MODEL_BYTES / LAYERS);
    for (const [seed, at] of [
      [1, 2 * MODEL_BYTES],
      [2, 3 * MODEL_BYTES],
    ]) {
      for (let layer = 0; layer < LAYERS; layer++) {
        fillBf16(seed)(layer, layerBytes);
        new Uint8Array(memory.buffer).set(layerBytes, at + layer * layerBytes.length);
      }
    }
    const kernel = createSharedSimdKernel(memory, stats);
    if (!kernel) throw new Error('no WebAssembly SIMD');
    const kernelOnly = (dtype: 'F32' | 'BF16') => async () => {
      const base = dtype === 'F32' ? 0 : 2 * MODEL_BYTES;
      const size = dtype === 'F32' ? 4 : 2;
      for (let at = 0; at < MODEL_BYTES; at += BLOCK) {
        kernel.applyAt(dtype, base + at, base + MODEL_BYTES + at, BLOCK / size, s);
      }
    };
    // The plain JavaScript kernel over the same blocks of the same memory, as the worker calls it where the SIMD
    // kernel does not apply (F16, mixed dtypes, LoRA). Both modify the weights in place, so each run starts from the
    // weights the previous one left (they stay finite: s * d is small).
    const scratch = createScratch();
    const jsKernelOnly = (dtype: 'F32' | 'BF16') => async () => {
      const base = dtype === 'F32' ? 0 : 2 * MODEL_BYTES;
      const size = dtype === 'F32' ? 4 : 2;
      const buffer = memory.buffer;
      for (let at = 0; at < MODEL_BYTES; at += BLOCK) {
        const job = {
          dtype,
          w: buffer,
          wAt: base + at,
          count: BLOCK / size,
          s,
          d: buffer,
          dAt: base + MODEL_BYTES + at,
        };
        if (applyBlock({ ...job, dDtype: dtype }, scratch).nonFiniteAt >= 0) throw new Error('non-finite weight');
      }
    };

    // Writes as align does: from shared WebAssembly memory (page-aligned), O_DIRECT where the file system takes
    // it, a few blocks in flight, then fsync.
    const writeOnly = (bytes: number) => async () => {
      const path = join(dir, 'write.bin');
      const handle = await open(path, 'w');
      const direct = await open(path, fsConstants.O_WRONLY | (fsConstants.O_DIRECT ?? 0)).catch(() => handle);
      try {
        const inFlight = new Set<Promise<unknown>>();
        for (let at = 0; at < bytes; at += BLOCK) {
          while (inFlight.size >= 8) await Promise.race(inFlight);
          const p = direct.write(new Uint8Array(memory.buffer, at % (8 * BLOCK), BLOCK), 0, BLOCK, at);
          inFlight.add(p);
          p.finally(() => inFlight.delete(p)).catch(() => {}); // a failure surfaces in race() or all()
        }
        await Promise.all(inFlight);
        await handle.sync();
      } finally {
        if (direct !== handle) await direct.close();
        await handle.close();
      }
      await moveAside(path);
    };

    const workerUrl = new URL('../packages/processors/src/align/align-worker.js', import.meta.url);
    const workerStart = async () => {
      const worker = new Worker(workerUrl, {
        workerData: { memory, statsAt: stats + 64, module: sharedKernelModule() },
        execArgv: [],
      });
      await new Promise((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
        worker.postMessage({ id: 0, type: 'apply', dtype: 'F32', wAt: 0, count: 0, s, dAt: 0, dDtype: 'F32' });
      });
      await worker.terminate();
    };

    const baseline = async () => {
      for (let i = 0; i < w.length; i++) w[i] += s * d[i];
    };

    const kernels: Subject[] = [
      { name: 'kernel F32', run: kernelOnly('F32') },
      { name: 'kernel F32, JS', run: jsKernelOnly('F32') },
      { name: 'kernel BF16', run: kernelOnly('BF16') },
      { name: 'kernel BF16, JS', run: jsKernelOnly('BF16') },
    ];
    // The floor's parts: reads and writes of each dtype's bytes (a BF16 model is 256 MiB of weights, so its files
    // hold the same bytes as F32's) and the SIMD kernels.
    const parts: Subject[] = [
      { name: 'read F32', run: readOnly('F32') },
      { name: 'read BF16', run: readOnly('BF16') },
      { name: 'kernel F32', run: kernelOnly('F32') },
      { name: 'kernel BF16', run: kernelOnly('BF16') },
      { name: 'write', run: writeOnly(MODEL_BYTES) },
    ];
    const subjects: Subject[] = KERNELS_ONLY
      ? [{ name: 'baseline', run: baseline }, ...kernels]
      : FLOOR_ONLY
        ? [
            { name: 'baseline', run: baseline },
            { name: 'align F32', run: alignRun(paths.f32, paths.f32Delta) },
            { name: 'align BF16', run: alignRun(paths.bf16, paths.bf16Delta) },
            ...parts,
          ]
        : [
            { name: 'baseline', run: baseline },
            { name: 'align F32', run: alignRun(paths.f32, paths.f32Delta) },
            { name: 'align BF16', run: alignRun(paths.bf16, paths.bf16Delta) },
            { name: 'align F32, 2 workers', run: alignRun(paths.f32, paths.f32Delta, 2) },
            { name: 'align BF16, 2 workers', run: alignRun(paths.bf16, paths.bf16Delta, 2) },
            ...parts.filter((p) => !p.name.startsWith('kernel')),
            ...kernels,
            { name: 'worker start', run: workerStart },
          ];
    const results = await compare(subjects, { reps: REPS, warmup: 1, label: 'align' });
    const ms = (name: string) => results.get(name)!.median;
    const throughput = (name: string) => MODEL_BYTES / MiB / (ms(name) / 1000);
    // The SIMD kernel's speed-up over the JS kernel: the median over repetitions of JS time / SIMD time, each pair
    // timed in the same repetition (steadier than a ratio of medians while the shared machine's load drifts).
    const simdSpeedUp = (dtype: 'F32' | 'BF16', cpu = false) =>
      pairedRatio(results.get(`kernel ${dtype}, JS`)!, results.get(`kernel ${dtype}`)!, cpu);
    // The floor of one align run: max(read, kernel, write + fsync) of its dtype, each timed alone in the same
    // repetition; align / floor is the median over repetitions of the per-repetition ratio (and its spread).
    const floorRatios = (dtype: 'F32' | 'BF16') => {
      const part = (name: string) => results.get(name)!.samples;
      const [read, kernel, write] = [part(`read ${dtype}`), part(`kernel ${dtype}`), part('write')];
      const floors = read.map((r, i) => Math.max(r, kernel[i]!, write[i]!));
      const ratios = results.get(`align ${dtype}`)!.samples.map((a, i) => a / floors[i]!);
      return { floor: median(floors), ratio: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios) };
    };
    const floors = KERNELS_ONLY ? undefined : { F32: floorRatios('F32'), BF16: floorRatios('BF16') };
    const kernelChecks = FLOOR_ONLY
      ? []
      : [
          check('kernel F32: SIMD speed-up over the JS kernel', simdSpeedUp('F32'), '>=', 1, 'x'),
          check('kernel BF16: SIMD speed-up over the JS kernel', simdSpeedUp('BF16'), '>=', 1, 'x'),
        ];
    const alignChecks = KERNELS_ONLY
      ? []
      : [
          check('align F32 vs baseline', ms('baseline') / ms('align F32'), '>=', 0.5, 'x'),
          check('align BF16 vs baseline', ms('baseline') / ms('align BF16'), '>=', 0.3, 'x'),
          check('align F32 vs its floor, max(read, kernel, write + fsync)', floors!.F32.ratio, '<=', 1.3, 'x'),
          check('align BF16 vs its floor, max(read, kernel, write + fsync)', floors!.BF16.ratio, '<=', 1.3, 'x'),
        ];
    const rows = [
      ['subject', 'median ms', 'min ms', 'max ms', 'cpu ms', 'MiB/s', 'vs baseline'],
      ...subjects.map((sub) => {
        const r = results.get(sub.name)!;
        return [
          sub.name,
          fmt(r.median, 1),
          fmt(r.min, 1),
          fmt(r.max, 1),
          fmt(r.cpuMedian, 0),
          sub.name === 'worker start' ? '' : fmt(throughput(sub.name), 0),
          ratio(ms('baseline') / r.median),
        ];
      }),
    ];
    report({
      scenario: KERNELS_ONLY ? 'align-kernels' : 'align',
      title: `align: 256 MiB models, full delta, ${BLOCK / MiB} MiB blocks, ${REPS} reps (median)`,
      table: rows,
      checks: [...alignChecks, ...kernelChecks],
      notes: [
        ...(floors
          ? (['F32', 'BF16'] as const).map(
              (dtype) =>
                `align ${dtype} / floor (max of read ${dtype}, kernel ${dtype}, write per repetition; median ` +
                `${fmt(floors[dtype].floor, 1)} ms): median ${ratio(floors[dtype].ratio)}, ` +
                `spread ${ratio(floors[dtype].min)}-${ratio(floors[dtype].max)}`,
            )
          : []),
        'baseline: in-memory Float32Array w[i] += s * d[i] over 64 Mi floats (no I/O, no norms, no rounding checks)',
        'read / kernel / write / worker start: parts of align timed alone; align overlaps them (worker + libuv threads)',
        'align includes fsync of the 256 MiB output and the rename (not the deletion); the page cache holds the inputs',
        'cpu ms: process CPU time (all threads); the machine is shared, so wall-clock ratios move with its load',
        ...(FLOOR_ONLY
          ? []
          : [
              `SIMD speed-up over the JS kernel (median of per-repetition JS / SIMD time): F32 ${ratio(simdSpeedUp('F32'))} ` +
                `(CPU time ${ratio(simdSpeedUp('F32', true))}), BF16 ${ratio(simdSpeedUp('BF16'))} ` +
                `(CPU time ${ratio(simdSpeedUp('BF16', true))})`,
            ]),
      ],
      meta: {
        ...machine(),
        blockBytes: BLOCK,
        reps: REPS,
        modelBytes: MODEL_BYTES,
        kernelsOnly: KERNELS_ONLY,
        floorOnly: FLOOR_ONLY,
      },
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (isMain(import.meta.url)) await main();
