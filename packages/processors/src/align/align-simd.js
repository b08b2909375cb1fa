// A WebAssembly SIMD version of the hottest align loops: F32 weights with an F32 full delta, and BF16 weights
// with a BF16 full delta. Same math as align-kernel.js, lane by lane: w and d are promoted to f64, the sum
// w + s * d is formed in f64 and demoted to binary32 (round to nearest even), then rounded to BF16 with the
// same integer trick; a zero delta keeps the original bits; sums are f64. A group of 4 whose output would be
// NaN or ±Inf (a weight that overflows, or a base holding NaN/Inf) is left to align-kernel.js, which knows NaN
// payloads and reports the overflow; so the fast path never handles them. The module is encoded here, byte by
// byte (no toolchain, no dependency); `createSimdKernel()` returns undefined where WebAssembly SIMD is missing;
// `createSharedSimdKernel()` works in place in a shared memory (the align worker's).
// Plain JavaScript (ESM + JSDoc) so the align worker loads it without a TypeScript loader.

import { applyBlock, createScratch } from './align-kernel.js';

// Opcodes used (core and 0xfd-prefixed SIMD).
const OP = {
  block: 0x02,
  loop: 0x03,
  if: 0x04,
  end: 0x0b,
  br: 0x0c,
  brIf: 0x0d,
  return: 0x0f,
  localGet: 0x20,
  localSet: 0x21,
  localTee: 0x22,
  f64Store: 0x39,
  i32Const: 0x41,
  f64Const: 0x44,
  i32Eqz: 0x45,
  i32GeU: 0x4f,
  i32LtU: 0x49,
  i32GtU: 0x4b,
  i32Add: 0x6a,
  i32Sub: 0x6b,
  i32Shl: 0x74,
  i32ShrU: 0x76,
};
const SIMD = {
  load: 0x00,
  load16x4u: 0x04,
  store: 0x0b,
  shuffle: 0x0d,
  i32x4Splat: 0x11,
  f64x2Splat: 0x14,
  f64x2ExtractLane: 0x21,
  i32x4Eq: 0x37,
  i32x4Ne: 0x38,
  i32x4GeU: 0x40,
  f64x2Eq: 0x47,
  f32x4Ne: 0x42,
  v128Not: 0x4d,
  v128And: 0x4e,
  v128AndNot: 0x4f,
  v128Or: 0x50,
  v128Bitselect: 0x52,
  v128AnyTrue: 0x53,
  store64Lane: 0x5b,
  f32x4DemoteF64x2Zero: 0x5e,
  f64x2PromoteLowF32x4: 0x5f,
  i16x8NarrowI32x4U: 0x86,
  i32x4Shl: 0xab,
  i32x4ShrU: 0xad,
  i32x4Add: 0xae,
  f64x2Add: 0xf0,
  f64x2Mul: 0xf2,
};
const V128 = 0x7b;
const I32 = 0x7f;
const F64 = 0x7c;

/** @param {number} n */
function uleb(n) {
  const out = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

/** @param {number} n */
function sleb(n) {
  const out = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

/** @param {number} op */
const simd = (op) => [0xfd, ...uleb(op)];
/** @param {number} i */
const get = (i) => [OP.localGet, ...uleb(i)];
/** @param {number} i */
const set = (i) => [OP.localSet, ...uleb(i)];
/** @param {number} v */
const i32 = (v) => [OP.i32Const, ...sleb(v)];
/** @param {number} v */
const splat32 = (v) => [...i32(v), ...simd(SIMD.i32x4Splat)];
/** @param {number} align @param {number} offset */
const memarg = (align, offset = 0) => [...uleb(align), ...uleb(offset)];
/** Bytes 8..15 of a v128 (pushed twice) moved to 0..7: the high two f32 lanes, for promote_low. */
const HIGH_HALF = [...simd(SIMD.shuffle), 8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15];
/** Two f32x4 with their results in lanes 0-1 (demote_zero) joined: lanes 0-1 of a, then lanes 0-1 of b. */
const JOIN_LOW = [...simd(SIMD.shuffle), 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23];
/** Two i64x2 masks joined into one i32x4 mask (lane 0 of each 64-bit lane). */
const JOIN_MASKS = [...simd(SIMD.shuffle), 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27];

/**
 * The first half of the body shared by both kernels: from the f32x4 values of w (local W) and d (local D), the
 * f64 pairs, the zero-delta mask (local ZERO) and the binary32 sums w + s * d (local O, as f32x4 bits), and
 * leaves on the stack a mask of the lanes the fast path does not finish: outputs that are NaN or ±Inf, or (BF16)
 * round to ±Inf. Those groups (rare: a weight that overflows, or a base that holds NaN/Inf) go to the JS kernel.
 * Locals: 0 w, 1 d, 2 n, 3 s(f64), 4 out(i32 stats address), 5 end, 6 S(v128 f64 splat),
 * 7 W, 8 D, 9 O, 10 WLO, 11 WHI, 12 DLO, 13 DHI, 14 ZERO(mask), 15 CHANGED, 16 (unused),
 * 17 SD, 18 DOT, 19 NW, 20 NO, 21 OLO, 22 OHI
 * @param {boolean} bf16
 */
function lanesIn(bf16) {
  const [W, D, O, WLO, WHI, DLO, DHI, ZERO] = [7, 8, 9, 10, 11, 12, 13, 14];
  const S = 6;
  return [
    // Promote w and d to f64 pairs; delta = s * d.
    ...get(W),
    ...simd(SIMD.f64x2PromoteLowF32x4),
    ...set(WLO),
    ...get(W),
    ...get(W),
    ...HIGH_HALF,
    ...simd(SIMD.f64x2PromoteLowF32x4),
    ...set(WHI),
    ...get(D),
    ...simd(SIMD.f64x2PromoteLowF32x4),
    ...get(S),
    ...simd(SIMD.f64x2Mul),
    ...set(DLO),
    ...get(D),
    ...get(D),
    ...HIGH_HALF,
    ...simd(SIMD.f64x2PromoteLowF32x4),
    ...get(S),
    ...simd(SIMD.f64x2Mul),
    ...set(DHI),
    // ZERO: lanes whose delta is 0 (their bits are kept).
    ...get(DLO),
    ...f64x2Zero(),
    ...simd(SIMD.f64x2Eq),
    ...get(DHI),
    ...f64x2Zero(),
    ...simd(SIMD.f64x2Eq),
    ...JOIN_MASKS,
    ...set(ZERO),
    // O = demote(w + delta), as f32x4 bits.
    ...get(WLO),
    ...get(DLO),
    ...simd(SIMD.f64x2Add),
    ...simd(SIMD.f32x4DemoteF64x2Zero),
    ...get(WHI),
    ...get(DHI),
    ...simd(SIMD.f64x2Add),
    ...simd(SIMD.f32x4DemoteF64x2Zero),
    ...JOIN_LOW,
    ...set(O),
    // Lanes left to the JS kernel: |O| bits >= Inf (binary32), or >= the largest BF16 tie (it rounds to Inf).
    ...get(O),
    ...splat32(0x7fffffff),
    ...simd(SIMD.v128And),
    ...splat32(bf16 ? 0x7f7f8000 : 0x7f800000),
    ...simd(SIMD.i32x4GeU),
  ];
}

/**
 * The second half, for a group the fast path finishes: rounds O to BF16 (to nearest even; O is finite there),
 * keeps w's bits where the delta is 0, and updates CHANGED and the f64 sums.
 * @param {boolean} bf16
 */
function lanesOut(bf16) {
  const [W, O, WLO, WHI, DLO, DHI, ZERO, CHANGED, SD, DOT, NW, NO, OLO, OHI] = [
    7, 9, 10, 11, 12, 13, 14, 15, 17, 18, 19, 20, 21, 22,
  ];
  const code = [];
  if (bf16) {
    // Round O to BF16 bits: h = (x + 0x7fff + ((x >> 16) & 1)) >> 16, then back to binary32 bits (h << 16).
    code.push(
      ...get(O),
      ...splat32(0x7fff),
      ...simd(SIMD.i32x4Add),
      ...get(O),
      ...i32(16),
      ...simd(SIMD.i32x4ShrU),
      ...splat32(1),
      ...simd(SIMD.v128And),
      ...simd(SIMD.i32x4Add),
      ...i32(16),
      ...simd(SIMD.i32x4ShrU),
      ...i32(16),
      ...simd(SIMD.i32x4Shl),
      ...set(O), // the BF16 value w' as binary32
    );
  }
  code.push(
    // Zero-delta lanes keep w's bits exactly.
    ...get(W),
    ...get(O),
    ...get(ZERO),
    ...simd(SIMD.v128Bitselect),
    ...set(O),
    // CHANGED |= O != W as floats (so -0 == +0), on lanes with a non-zero delta, as in align-kernel.js.
    ...get(CHANGED),
    ...get(O),
    ...get(W),
    ...simd(SIMD.f32x4Ne),
    ...get(ZERO),
    ...simd(SIMD.v128AndNot),
    ...simd(SIMD.v128Or),
    ...set(CHANGED),
    // Sums in f64 pairs.
    ...get(O),
    ...simd(SIMD.f64x2PromoteLowF32x4),
    ...set(OLO),
    ...get(O),
    ...get(O),
    ...HIGH_HALF,
    ...simd(SIMD.f64x2PromoteLowF32x4),
    ...set(OHI),
    ...get(SD),
    ...get(DLO),
    ...get(DLO),
    ...simd(SIMD.f64x2Mul),
    ...simd(SIMD.f64x2Add),
    ...get(DHI),
    ...get(DHI),
    ...simd(SIMD.f64x2Mul),
    ...simd(SIMD.f64x2Add),
    ...set(SD),
    ...get(DOT),
    ...get(WLO),
    ...get(OLO),
    ...simd(SIMD.f64x2Mul),
    ...simd(SIMD.f64x2Add),
    ...get(WHI),
    ...get(OHI),
    ...simd(SIMD.f64x2Mul),
    ...simd(SIMD.f64x2Add),
    ...set(DOT),
    ...get(NW),
    ...get(WLO),
    ...get(WLO),
    ...simd(SIMD.f64x2Mul),
    ...simd(SIMD.f64x2Add),
    ...get(WHI),
    ...get(WHI),
    ...simd(SIMD.f64x2Mul),
    ...simd(SIMD.f64x2Add),
    ...set(NW),
    ...get(NO),
    ...get(OLO),
    ...get(OLO),
    ...simd(SIMD.f64x2Mul),
    ...simd(SIMD.f64x2Add),
    ...get(OHI),
    ...get(OHI),
    ...simd(SIMD.f64x2Mul),
    ...simd(SIMD.f64x2Add),
    ...set(NO),
  );
  return code;
}

function f64x2Zero() {
  return [OP.f64Const, 0, 0, 0, 0, 0, 0, 0, 0, ...simd(SIMD.f64x2Splat)];
}

/**
 * One exported function `(w, d, n, s, out) -> i32`: processes elements [0, n) (n a multiple of 4) in place at
 * byte address w, deltas at d, writes the sums [sd, dot, nw, no, changed] of the groups it finished as f64 at
 * `out`, and returns n, or the index of the first group of 4 it left to the JS kernel (unwritten, not summed):
 * one with an output that is NaN or ±Inf.
 * Two groups of 4 per iteration, addressed by pointers that move (no index arithmetic), then a last group of 4.
 * @param {boolean} bf16
 */
function kernelBody(bf16) {
  const [w, d, n, s, out, end, S] = [0, 1, 2, 3, 4, 5, 6];
  const [O, CHANGED, SD, DOT, NW, NO] = [9, 15, 17, 18, 19, 20];
  const [W0, RESULT] = [23, 24];
  const [W, D] = [7, 8];
  const shift = bf16 ? 1 : 2;
  /** Bytes of a group of 4 weights (and of 4 deltas). */
  const step = 4 << shift;
  const load = bf16
    ? (/** @type {number} */ base, /** @type {number} */ offset) => [
        ...get(base),
        ...simd(SIMD.load16x4u),
        ...memarg(1, offset),
        ...i32(16),
        ...simd(SIMD.i32x4Shl),
      ]
    : (/** @type {number} */ base, /** @type {number} */ offset) => [
        ...get(base),
        ...simd(SIMD.load),
        ...memarg(2, offset),
      ];
  const store = bf16
    ? (/** @type {number} */ offset) => [
        ...get(w),
        ...get(O),
        ...i32(16),
        ...simd(SIMD.i32x4ShrU),
        ...get(O),
        ...i32(16),
        ...simd(SIMD.i32x4ShrU),
        ...simd(SIMD.i16x8NarrowI32x4U),
        ...simd(SIMD.store64Lane),
        ...memarg(1, offset),
        0,
      ]
    : (/** @type {number} */ offset) => [...get(w), ...get(O), ...simd(SIMD.store), ...memarg(2, offset)];
  /**
   * The group of 4 at byte `offset` from the pointers; when the JS kernel must take it, records its index and
   * branches `exit` levels out, to the end of the outer block.
   */
  const group = (/** @type {number} */ offset, /** @type {number} */ exit) => [
    ...load(w, offset),
    ...set(W),
    ...load(d, offset),
    ...set(D),
    ...lanesIn(bf16),
    ...simd(SIMD.v128AnyTrue),
    OP.if,
    0x40,
    ...get(w),
    ...i32(offset),
    OP.i32Add,
    ...get(W0),
    OP.i32Sub,
    ...i32(shift),
    OP.i32ShrU,
    ...set(RESULT),
    OP.br,
    exit + 1,
    OP.end,
    ...lanesOut(bf16),
    ...store(offset),
  ];
  const advance = (/** @type {number} */ bytes) => [
    ...get(w),
    ...i32(bytes),
    OP.i32Add,
    ...set(w),
    ...get(d),
    ...i32(bytes),
    OP.i32Add,
    ...set(d),
  ];
  const body = [
    ...get(s),
    ...simd(SIMD.f64x2Splat),
    ...set(S),
    ...get(w),
    ...set(W0),
    ...get(n),
    ...set(RESULT),
    ...get(w),
    ...get(n),
    ...i32(shift),
    OP.i32Shl,
    OP.i32Add,
    ...set(end),
    OP.block, // exit: a group left to JS
    0x40,
    OP.block, // the pairs are done
    0x40,
    OP.loop,
    0x40,
    // while (w + 2 groups <= end)
    ...get(w),
    ...i32(2 * step),
    OP.i32Add,
    ...get(end),
    OP.i32GtU,
    OP.brIf,
    1,
    ...group(0, 2),
    ...group(step, 2),
    ...advance(2 * step),
    OP.br,
    0,
    OP.end,
    OP.end,
    // The last group of 4, if n is not a multiple of 8.
    ...get(w),
    ...get(end),
    OP.i32LtU,
    OP.if,
    0x40,
    ...group(0, 1),
    OP.end,
    OP.end,
    // Sums out: each f64x2 reduced lane 0 + lane 1.
    ...[SD, DOT, NW, NO].flatMap((acc, k) => [
      ...get(out),
      ...get(acc),
      ...simd(SIMD.f64x2ExtractLane),
      0,
      ...get(acc),
      ...simd(SIMD.f64x2ExtractLane),
      1,
      0xa0,
      OP.f64Store,
      ...memarg(3, k * 8),
    ]),
    ...get(out),
    ...get(CHANGED),
    ...simd(SIMD.v128AnyTrue),
    0xb8,
    OP.f64Store,
    ...memarg(3, 32),
    ...get(RESULT),
  ];
  const locals = [
    [1, I32], // end (5)
    [2, V128], // S, W (6-7)
    [2, V128], // D, O (8-9)
    [5, V128], // WLO WHI DLO DHI ZERO (10-14)
    [2, V128], // CHANGED, unused (15-16)
    [4, V128], // SD DOT NW NO (17-20)
    [2, V128], // OLO OHI (21-22)
    [2, I32], // W0: w at entry (23), RESULT (24)
  ];
  const localBytes = [...uleb(locals.length), ...locals.flatMap(([count, type]) => [...uleb(count), type])];
  const code = [...localBytes, ...body, OP.end];
  return [...uleb(code.length), ...code];
}

/** @param {number} id @param {number[]} bytes */
function section(id, bytes) {
  return [id, ...uleb(bytes.length), ...bytes];
}

/** @param {string} s */
function name(s) {
  const bytes = [...new TextEncoder().encode(s)];
  return [...uleb(bytes.length), ...bytes];
}

/**
 * The module; it imports its memory as `m.memory`: a private one, or a shared one (any size up to 4 GiB).
 * @param {boolean} shared
 */
function moduleBytes(shared) {
  const type = [0x60, 5, I32, I32, I32, F64, I32, 1, I32];
  const limits = shared ? [0x03, ...uleb(1), ...uleb(65536)] : [0x00, ...uleb(1)];
  return new Uint8Array([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(1, [1, ...type]),
    ...section(2, [1, ...name('m'), ...name('memory'), 0x02, ...limits]),
    ...section(3, [2, 0, 0]),
    ...section(7, [2, ...name('f32'), 0x00, 0, ...name('bf16'), 0x00, 1]),
    ...section(10, [2, ...kernelBody(false), ...kernelBody(true)]),
  ]);
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
 * Compiles the SIMD kernel, or returns undefined when this runtime lacks WebAssembly SIMD.
 * @returns {SimdKernel | undefined}
 */
export function createSimdKernel() {
  if (typeof WebAssembly === 'undefined') return undefined;
  const bytes = moduleBytes(false);
  if (!WebAssembly.validate(bytes)) return undefined;
  const memory = new WebAssembly.Memory({ initial: 1 });
  const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), { m: { memory } });
  const exports = /** @type {{ f32: Function, bf16: Function }} */ (/** @type {unknown} */ (instance.exports));
  return {
    apply(dtype, w, d, count, s) {
      const size = dtype === 'F32' ? 4 : 2;
      const wAt = 64;
      const dAt = 64 + CHUNK * size;
      let heap = new Uint8Array(memory.buffer);
      if (heap.length < dAt + CHUNK * size) {
        memory.grow(Math.ceil((dAt + CHUNK * size - heap.length) / 65536));
        heap = new Uint8Array(memory.buffer);
      }
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
 * The compiled module of the shared-memory kernel, compiled once per thread and cached (undefined where WebAssembly
 * SIMD or shared memory is missing). Post it to the workers: they then share its machine code, optimised code
 * included, instead of compiling it again each.
 * @returns {WebAssembly.Module | undefined}
 */
export function sharedKernelModule() {
  if (sharedModule === undefined) {
    sharedModule = null;
    if (typeof WebAssembly !== 'undefined') {
      const bytes = moduleBytes(true);
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
