// A WebAssembly SIMD version of the hottest align loops: F32 weights with an F32 full delta, and BF16 weights
// with a BF16 full delta. Same math as align-kernel.js, lane by lane: w and d are promoted to f64, the sum
// w + s * d is formed in f64 and demoted to binary32 (round to nearest even), then rounded to BF16 with the
// same integer trick; a zero delta keeps the original bits; sums are f64. The module is encoded here, byte by
// byte (no toolchain, no dependency); `createSimdKernel()` returns undefined where WebAssembly SIMD is missing.
// Plain JavaScript (ESM + JSDoc) so the align worker loads it without a TypeScript loader.

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
  i32Add: 0x6a,
  i32Sub: 0x6b,
  i32Shl: 0x74,
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
 * The body shared by both kernels: from the f32x4 values of w (local W) and d (local D), computes the f32x4 output
 * bits into local O (zero deltas keep w's bits), updates the sums and the masks.
 * Locals: 0 w, 1 d, 2 n, 3 s(f64), 4 out(i32 stats address), 5 i, 6 S(v128 f64 splat),
 * 7 W, 8 D, 9 O, 10 WLO, 11 WHI, 12 DLO, 13 DHI, 14 ZERO(mask), 15 CHANGED, 16 BAD,
 * 17 SD, 18 DOT, 19 NW, 20 NO, 21 OLO, 22 OHI
 * @param {boolean} bf16
 */
function lanes(bf16) {
  const [W, D, O, WLO, WHI, DLO, DHI, ZERO, CHANGED, BAD, SD, DOT, NW, NO, OLO, OHI] = [
    7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22,
  ];
  const S = 6;
  const code = [
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
  ];
  if (bf16) {
    // Round O to BF16 bits in the low half of each lane, NaN kept quiet: h = (x + 0x7fff + ((x >> 16) & 1)) >> 16.
    code.push(
      ...get(O),
      ...i32(16),
      ...simd(SIMD.i32x4ShrU),
      ...splat32(0x40),
      ...simd(SIMD.v128Or),
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
      ...get(O),
      ...get(O),
      ...simd(SIMD.f32x4Ne),
      ...simd(SIMD.v128Bitselect), // NaN ? quiet(x >> 16) : rounded
      ...i32(16),
      ...simd(SIMD.i32x4Shl),
      ...set(O), // back to f32 bits: the BF16 value w' as binary32
    );
  }
  code.push(
    // Zero-delta lanes keep w's bits exactly.
    ...get(W),
    ...get(O),
    ...get(ZERO),
    ...simd(SIMD.v128Bitselect),
    ...set(O),
    // CHANGED |= O != W as floats (so -0 == +0, NaN != NaN), on lanes with a non-zero delta, as in align-kernel.js.
    ...get(CHANGED),
    ...get(O),
    ...get(W),
    ...simd(SIMD.f32x4Ne),
    ...get(ZERO),
    ...simd(SIMD.v128AndNot),
    ...simd(SIMD.v128Or),
    ...set(CHANGED),
    // BAD |= finite(W) & !finite(O).
    ...get(BAD),
    ...get(W),
    ...splat32(0x7f800000),
    ...simd(SIMD.v128And),
    ...splat32(0x7f800000),
    ...simd(SIMD.i32x4Ne),
    ...get(O),
    ...splat32(0x7f800000),
    ...simd(SIMD.v128And),
    ...splat32(0x7f800000),
    ...simd(SIMD.i32x4Eq),
    ...simd(SIMD.v128And),
    ...simd(SIMD.v128Or),
    ...set(BAD),
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
 * byte address w, deltas at d, writes [sd, dot, nw, no, changed] as f64 at `out`, and returns n, or the index
 * of the first group of 4 holding a finite weight whose output is not finite (stopping there, unwritten).
 * @param {boolean} bf16
 */
function kernelBody(bf16) {
  const [w, d, n, s, out, i, S] = [0, 1, 2, 3, 4, 5, 6];
  const [W, D, O, CHANGED, BAD, SD, DOT, NW, NO] = [7, 8, 9, 15, 16, 17, 18, 19, 20];
  const load = bf16
    ? (/** @type {number} */ base) => [
        ...get(base),
        ...get(i),
        ...i32(1),
        OP.i32Shl,
        OP.i32Add,
        ...simd(SIMD.load16x4u),
        ...memarg(1),
        ...i32(16),
        ...simd(SIMD.i32x4Shl),
      ]
    : (/** @type {number} */ base) => [
        ...get(base),
        ...get(i),
        ...i32(2),
        OP.i32Shl,
        OP.i32Add,
        ...simd(SIMD.load),
        ...memarg(2),
      ];
  const store = bf16
    ? [
        ...get(w),
        ...get(i),
        ...i32(1),
        OP.i32Shl,
        OP.i32Add,
        ...get(O),
        ...i32(16),
        ...simd(SIMD.i32x4ShrU),
        ...get(O),
        ...i32(16),
        ...simd(SIMD.i32x4ShrU),
        ...simd(SIMD.i16x8NarrowI32x4U),
        ...simd(SIMD.store64Lane),
        ...memarg(1),
        0,
      ]
    : [...get(w), ...get(i), ...i32(2), OP.i32Shl, OP.i32Add, ...get(O), ...simd(SIMD.store), ...memarg(2)];
  const body = [
    ...get(s),
    ...simd(SIMD.f64x2Splat),
    ...set(S),
    OP.block,
    0x40,
    OP.loop,
    0x40,
    ...get(i),
    ...get(n),
    OP.i32GeU,
    OP.brIf,
    1,
    ...load(w),
    ...set(W),
    ...load(d),
    ...set(D),
    ...lanes(bf16),
    // A finite weight became NaN/Inf: stop before writing this group; the caller finds the lane.
    ...get(BAD),
    ...simd(SIMD.v128AnyTrue),
    OP.if,
    0x40,
    ...get(i),
    OP.br,
    3,
    OP.end,
    ...store,
    ...get(i),
    ...i32(4),
    OP.i32Add,
    ...set(i),
    OP.br,
    0,
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
    ...get(n),
  ];
  // The early exit branches to depth 3 from inside if/loop/block: that is the function body's implicit block,
  // whose result (an i32) is the index on the stack.
  const locals = [
    [2, V128], // S, W
    [2, V128], // D, O
    [5, V128], // WLO WHI DLO DHI ZERO (10-14)
    [2, V128], // CHANGED BAD (15-16)
    [4, V128], // SD DOT NW NO (17-20)
    [2, V128], // OLO OHI (21-22)
  ];
  // Local 5 (i) is an i32 declared first; params are 0-4.
  const declared = [[1, I32], [...locals[0]], ...locals.slice(1)];
  const localBytes = [...uleb(declared.length), ...declared.flatMap(([count, type]) => [...uleb(count), type])];
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

function moduleBytes() {
  const type = [0x60, 5, I32, I32, I32, F64, I32, 1, I32];
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
    ...section(2, [1, ...name('m'), ...name('memory'), 0x02, 0x00, ...uleb(1)]),
    ...section(3, [2, 0, 0]),
    ...section(7, [2, ...name('f32'), 0x00, 0, ...name('bf16'), 0x00, 1]),
    ...section(10, [2, ...kernelBody(false), ...kernelBody(true)]),
  ]);
}

/** Elements per call into the module (128 KiB of F32 weights plus as much of deltas). */
const CHUNK = 32768;

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
  const bytes = moduleBytes();
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
      const stats = {
        sumDelta2: 0,
        dot: 0,
        normW2: 0,
        normOut2: 0,
        changed: false,
        nonFiniteAt: -1,
        before: 0,
        after: 0,
      };
      // Chunks small enough for L2: the copies into and out of the module's memory then stay in cache.
      for (let first = 0; first < whole; first += CHUNK) {
        const n = Math.min(CHUNK, whole - first);
        heap.set(new Uint8Array(w, first * size, n * size), wAt);
        heap.set(new Uint8Array(d, first * size, n * size), dAt);
        const done = fn(wAt, dAt, n, s, 0);
        new Uint8Array(w, first * size, done * size).set(heap.subarray(wAt, wAt + done * size));
        stats.sumDelta2 += view[0];
        stats.dot += view[1];
        stats.normW2 += view[2];
        stats.normOut2 += view[3];
        stats.changed = stats.changed || view[4] !== 0;
        if (done < n) return { stats, done: first + done };
      }
      return { stats, done: whole };
    },
  };
}
