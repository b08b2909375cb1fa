// The WebAssembly SIMD kernel of the hottest align loops: F32 weights with an F32 full delta, and BF16 weights
// with a BF16 full delta. Its source is align-simd.wat (what it computes and why it agrees with align-kernel.js
// byte for byte); `pnpm run build:wasm` compiles it into align-simd-wasm.js, which this file loads. A group of 4
// whose output would be NaN or ±Inf is left to align-kernel.js, which keeps NaN payloads and reports the
// overflow. `createSimdKernel()` works on copies (tests); `createSharedSimdKernel()` works in place in a shared
// memory (the align worker's). Both return undefined where WebAssembly SIMD or shared memory is missing.
// Plain JavaScript (ESM + JSDoc) so the align worker loads it without a TypeScript loader.

import { applyBlock, createScratch } from './align-kernel.js';
import { ALIGN_SIMD_WASM_BASE64 } from './align-simd-wasm.js';

/** @type {Uint8Array | undefined} */
let bytes;

/**
 * The bytes of the kernel's module (compiled from align-simd.wat). It imports a shared memory as `m.memory`, of any
 * size up to 4 GiB, and exports `f32` and `bf16`.
 * @returns {Uint8Array}
 */
export function kernelBytes() {
  bytes ??= Uint8Array.from(atob(ALIGN_SIMD_WASM_BASE64), (c) => c.charCodeAt(0));
  return bytes;
}

/** Elements per call into the module (128 KiB of F32 weights plus as much of deltas). */
const CHUNK = 32768;

/** @typedef {import('./align-kernel.js').BlockStats} BlockStats */

/** @returns {BlockStats} */
function emptyStats() {
  return { sumDelta2: 0, dot: 0, normW2: 0, normOut2: 0, changed: false, nonFiniteAt: -1, before: 0, after: 0 };
}

/**
 * Adds sums to `into`.
 * @param {BlockStats} into
 * @param {{ sumDelta2: number, dot: number, normW2: number, normOut2: number, changed: boolean }} sums
 */
function addSums(into, sums) {
  into.sumDelta2 += sums.sumDelta2;
  into.dot += sums.dot;
  into.normW2 += sums.normW2;
  into.normOut2 += sums.normOut2;
  into.changed = into.changed || sums.changed;
}

const scratch = createScratch();
const groupW = new ArrayBuffer(16);
const groupD = new ArrayBuffer(16);

/**
 * Runs the kernel `fn` over `n` elements (a multiple of 4) at byte addresses `wAt`/`dAt` of `heap` (its sums land
 * in `view`), and gives each group it leaves (an output that is NaN or ±Inf) to the JS kernel, on a copy: written
 * back and summed when legitimate (the weight was NaN/Inf already), else the run stops at that group, unwritten.
 * Returns the elements done: `n`, or the index of the group where a finite weight became NaN/Inf.
 * @param {Function} fn
 * @param {Uint8Array} heap
 * @param {Float64Array} view
 * @param {number} statsAt
 * @param {'F32' | 'BF16'} dtype
 * @param {number} wAt
 * @param {number} dAt
 * @param {number} n
 * @param {number} s
 * @param {BlockStats} stats
 */
function drive(fn, heap, view, statsAt, dtype, wAt, dAt, n, s, stats) {
  const size = dtype === 'F32' ? 4 : 2;
  let k = 0;
  while (k < n) {
    k += fn(wAt + k * size, dAt + k * size, n - k, s, statsAt);
    addSums(stats, { sumDelta2: view[0], dot: view[1], normW2: view[2], normOut2: view[3], changed: view[4] !== 0 });
    if (k === n) break;
    const w = new Uint8Array(groupW, 0, 4 * size);
    w.set(heap.subarray(wAt + k * size, wAt + (k + 4) * size));
    new Uint8Array(groupD, 0, 4 * size).set(heap.subarray(dAt + k * size, dAt + (k + 4) * size));
    const group = applyBlock({ dtype, w: groupW, count: 4, s, d: groupD, dDtype: dtype }, scratch);
    if (group.nonFiniteAt >= 0) return k;
    heap.set(w, wAt + k * size);
    addSums(stats, group);
    k += 4;
  }
  return n;
}

/**
 * @typedef {Object} SimdKernel
 * @property {(dtype: 'F32' | 'BF16', w: ArrayBuffer, d: ArrayBuffer, count: number, s: number) => { stats: import('./align-kernel.js').BlockStats, done: number }} apply
 *   Applies the delta to the first `done` elements (a multiple of 4; fewer than `count` when a finite weight
 *   would become NaN/Inf there, or for the last count % 4); `w` is modified in place.
 */

/**
 * The SIMD kernel on copies: each call copies the block into a private memory of the kernel, CHUNK elements at a
 * time, and the results back. Returns undefined when this runtime lacks WebAssembly SIMD or shared memory.
 * @returns {SimdKernel | undefined}
 */
export function createSimdKernel() {
  const module = sharedKernelModule();
  if (!module) return undefined;
  // The module imports a shared memory (one module for both uses); this one is only ever used by this thread.
  // 64 bytes of sums, then CHUNK weights and CHUNK deltas of at most 4 bytes.
  const pages = Math.ceil((64 + 2 * CHUNK * 4) / 65536);
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
  const instance = new WebAssembly.Instance(module, { m: { memory } });
  const exports = /** @type {{ f32: Function, bf16: Function }} */ (/** @type {unknown} */ (instance.exports));
  const heap = new Uint8Array(memory.buffer);
  return {
    apply(dtype, w, d, count, s) {
      const size = dtype === 'F32' ? 4 : 2;
      const wAt = 64;
      const dAt = 64 + CHUNK * size;
      const view = new Float64Array(memory.buffer, 0, 5);
      const fn = dtype === 'F32' ? exports.f32 : exports.bf16;
      const whole = count - (count % 4);
      const stats = emptyStats();
      // Chunks small enough for L2: the copies into and out of the module's memory then stay in cache.
      for (let first = 0; first < whole; first += CHUNK) {
        const n = Math.min(CHUNK, whole - first);
        heap.set(new Uint8Array(w, first * size, n * size), wAt);
        heap.set(new Uint8Array(d, first * size, n * size), dAt);
        const done = drive(fn, heap, view, 0, dtype, wAt, dAt, n, s, stats);
        new Uint8Array(w, first * size, done * size).set(heap.subarray(wAt, wAt + done * size));
        if (done < n) return { stats, done: first + done };
      }
      return { stats, done: whole };
    },
  };
}

/**
 * @typedef {Object} SharedSimdKernel
 * @property {(dtype: 'F32' | 'BF16', wAt: number, dAt: number, count: number, s: number) => { stats: import('./align-kernel.js').BlockStats, done: number }} applyAt
 *   Applies the delta in place to weights at byte address `wAt` of the shared memory, deltas at `dAt` (no copies):
 *   to the first `done` elements, as `SimdKernel.apply`. Sums are reduced every CHUNK elements, in the same order
 *   as `apply`, so both give the same sums for the same block.
 */

/** @type {WebAssembly.Module | null | undefined} */
let sharedModule;

/**
 * The compiled module of the kernel, compiled once per thread and cached (undefined where WebAssembly
 * SIMD or shared memory is missing). Post it to the workers: they then share its machine code, optimised code
 * included, instead of compiling it again each.
 * @returns {WebAssembly.Module | undefined}
 */
export function sharedKernelModule() {
  if (sharedModule === undefined) {
    sharedModule = null;
    if (typeof WebAssembly !== 'undefined') {
      const bytes = kernelBytes();
      if (WebAssembly.validate(bytes)) sharedModule = new WebAssembly.Module(bytes);
    }
  }
  return sharedModule ?? undefined;
}

/**
 * The SIMD kernel over a shared WebAssembly.Memory (`shared: true`) that other threads read and write too;
 * `statsAt` is a 64-byte area of it owned by the calling thread. Returns undefined when this runtime lacks
 * WebAssembly SIMD or shared memory.
 * @param {WebAssembly.Memory} memory
 * @param {number} statsAt
 * @param {WebAssembly.Module | undefined} [module] from `sharedKernelModule()` (of any thread)
 * @returns {SharedSimdKernel | undefined}
 */
export function createSharedSimdKernel(memory, statsAt, module = sharedKernelModule()) {
  if (!module) return undefined;
  let instance;
  try {
    instance = new WebAssembly.Instance(module, { m: { memory } });
  } catch {
    return undefined;
  }
  const exports = /** @type {{ f32: Function, bf16: Function }} */ (/** @type {unknown} */ (instance.exports));
  const view = new Float64Array(memory.buffer, statsAt, 5);
  const heap = new Uint8Array(memory.buffer);
  return {
    applyAt(dtype, wAt, dAt, count, s) {
      const size = dtype === 'F32' ? 4 : 2;
      const fn = dtype === 'F32' ? exports.f32 : exports.bf16;
      const whole = count - (count % 4);
      const stats = emptyStats();
      for (let first = 0; first < whole; first += CHUNK) {
        const n = Math.min(CHUNK, whole - first);
        const done = drive(fn, heap, view, statsAt, dtype, wAt + first * size, dAt + first * size, n, s, stats);
        if (done < n) return { stats, done: first + done };
      }
      return { stats, done: whole };
    },
  };
}
