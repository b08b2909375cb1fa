// The arithmetic of `align` on one block of one tensor (the processors README, "align", states the math):
//   delta = s * d (f64), w' = round_out(fround(w + delta)), with f64 sums for
//   the norms and the cosine. Plain JavaScript (ESM + JSDoc) because the align
//   worker loads it without a TypeScript loader; types in align-kernel.d.ts.
// A zero delta leaves the element's bytes exactly as they were (so strength 0
// is byte-identical, -0 and NaN payloads included).
// Speed: one loop per weight dtype, so each stays monomorphic; 16-bit blocks
// are handled in tiles small enough for L1, decoded and re-encoded with
// integer ops; sums use two accumulators each (even/odd elements) to halve
// the floating-point dependency chains. The tiling fixes the order of the
// sums, so results are deterministic for a given block size.

import { F16_TO_F32, f32BitsToF16Bits } from '../safetensors/float16.js';

/** @typedef {'F32' | 'F16' | 'BF16'} FloatDtype */

/**
 * @typedef {Object} BlockStats
 * @property {number} sumDelta2 sum of delta^2
 * @property {number} dot sum of w * w'
 * @property {number} normW2 sum of w^2
 * @property {number} normOut2 sum of w'^2
 * @property {boolean} changed some output element differs from its input
 * @property {number} nonFiniteAt index in the block of the first finite w whose w' is not finite, or -1
 * @property {number} before that w
 * @property {number} after that w'
 */

/**
 * @typedef {Object} Scratch
 * @property {Float64Array} lora LoRA delta values of the current block
 * @property {Float32Array} w decoded 16-bit weights of one tile
 * @property {Float32Array} d decoded 16-bit deltas of one tile
 * @property {Float32Array} o outputs of one tile (binary32), also viewed as int32 bits
 */

const TILE = 2048;

/** @returns {Scratch} */
export function createScratch() {
  return { lora: new Float64Array(0), w: new Float32Array(TILE), d: new Float32Array(TILE), o: new Float32Array(TILE) };
}

/**
 * LoRA delta values d = scale * (B @ A) for the elements [first, first + count) of a [rows, cols] tensor.
 * `b` holds the rows of B from `firstRow` on (r values per row); `a` is all of A ([r, cols]).
 * The sum over k runs from k = 0 up, in f64.
 * @param {{ a: Float64Array, r: number, cols: number, scale: number, b: Float64Array, firstRow: number }} lora
 * @param {number} first
 * @param {number} count
 * @param {Scratch} scratch
 * @returns {Float64Array}
 */
export function loraDelta(lora, first, count, scratch) {
  if (scratch.lora.length < count) scratch.lora = new Float64Array(count);
  const out = scratch.lora.subarray(0, count);
  out.fill(0);
  const { a, r, cols, scale, b, firstRow } = lora;
  let e = 0;
  while (e < count) {
    const index = first + e;
    const row = Math.floor(index / cols);
    const col = index - row * cols;
    const len = Math.min(cols - col, count - e);
    const bRow = (row - firstRow) * r;
    for (let k = 0; k < r; k++) {
      const bk = b[bRow + k];
      const aRow = k * cols + col;
      for (let t = 0; t < len; t++) out[e + t] += bk * a[aRow + t];
    }
    for (let t = 0; t < len; t++) out[e + t] = scale * out[e + t];
    e += len;
  }
  return out;
}

/** @returns {BlockStats} */
function emptyStats() {
  return { sumDelta2: 0, dot: 0, normW2: 0, normOut2: 0, changed: false, nonFiniteAt: -1, before: 0, after: 0 };
}

/**
 * F32 weights, modified in place: wf[at + j] += s * dv[dAt + j] for j < n.
 * @param {Float32Array} wf
 * @param {number} at
 * @param {Float32Array | Float64Array} dv
 * @param {number} dAt
 * @param {number} n
 * @param {number} s
 * @param {BlockStats} st
 */
function loopF32(wf, at, dv, dAt, n, s, st) {
  let sd0 = 0;
  let sd1 = 0;
  let dot0 = 0;
  let dot1 = 0;
  let nw0 = 0;
  let nw1 = 0;
  let no0 = 0;
  let no1 = 0;
  let changed = false;
  let j = 0;
  for (; j + 1 < n; j += 2) {
    const w0 = wf[at + j];
    const w1 = wf[at + j + 1];
    const d0 = s * dv[dAt + j];
    const d1 = s * dv[dAt + j + 1];
    let o0 = w0;
    let o1 = w1;
    if (d0 !== 0) {
      o0 = Math.fround(w0 + d0);
      wf[at + j] = o0;
      changed = changed || o0 !== w0;
      if (o0 - o0 !== 0 && w0 - w0 === 0) nonFinite(st, at + j, w0, o0);
    }
    if (d1 !== 0) {
      o1 = Math.fround(w1 + d1);
      wf[at + j + 1] = o1;
      changed = changed || o1 !== w1;
      if (o1 - o1 !== 0 && w1 - w1 === 0) nonFinite(st, at + j + 1, w1, o1);
    }
    sd0 += d0 * d0;
    sd1 += d1 * d1;
    dot0 += w0 * o0;
    dot1 += w1 * o1;
    nw0 += w0 * w0;
    nw1 += w1 * w1;
    no0 += o0 * o0;
    no1 += o1 * o1;
  }
  if (j < n) {
    const w0 = wf[at + j];
    const d0 = s * dv[dAt + j];
    let o0 = w0;
    if (d0 !== 0) {
      o0 = Math.fround(w0 + d0);
      wf[at + j] = o0;
      changed = changed || o0 !== w0;
      if (o0 - o0 !== 0 && w0 - w0 === 0) nonFinite(st, at + j, w0, o0);
    }
    sd0 += d0 * d0;
    dot0 += w0 * o0;
    nw0 += w0 * w0;
    no0 += o0 * o0;
  }
  st.sumDelta2 += sd0 + sd1;
  st.dot += dot0 + dot1;
  st.normW2 += nw0 + nw1;
  st.normOut2 += no0 + no1;
  st.changed = st.changed || changed;
}

/**
 * Records the first finite weight whose output is not finite (rare: the caller then fails with E_NONFINITE).
 * @param {BlockStats} st
 * @param {number} index
 * @param {number} before
 * @param {number} after
 */
function nonFinite(st, index, before, after) {
  if (st.nonFiniteAt >= 0) return;
  st.nonFiniteAt = index;
  st.before = before;
  st.after = after;
}

/**
 * One tile of 16-bit weights (decoded in `scratch.w`), re-encoded into `w16[at..]` where the delta is not zero.
 * @param {boolean} bf16 BF16 (else F16)
 * @param {Uint16Array} w16
 * @param {number} at
 * @param {Float32Array | Float64Array} dv
 * @param {number} dAt
 * @param {number} n
 * @param {number} s
 * @param {Scratch} scratch
 * @param {BlockStats} st
 */
function loop16(bf16, w16, at, dv, dAt, n, s, scratch, st) {
  const wt = scratch.w;
  const ot = scratch.o;
  const oi = new Int32Array(ot.buffer, ot.byteOffset, TILE);
  const table = F16_TO_F32;
  let sd = 0;
  let dot = 0;
  let nw = 0;
  let no = 0;
  let changed = false;
  if (bf16) {
    for (let j = 0; j < n; j++) {
      const wv = wt[j];
      const dl = s * dv[dAt + j];
      let o = wv;
      if (dl !== 0) {
        ot[j] = wv + dl;
        const x = oi[j];
        // Round to nearest even on the bits; NaN stays a quiet NaN. All int32 arithmetic.
        const h =
          (x & 0x7fffffff) > 0x7f800000 ? ((x >> 16) | 0x40) & 0xffff : ((x + 0x7fff + ((x >> 16) & 1)) >> 16) & 0xffff;
        w16[at + j] = h;
        oi[j] = h << 16;
        o = ot[j];
        changed = changed || o !== wv;
        if (o - o !== 0 && wv - wv === 0) nonFinite(st, at + j, wv, o);
      }
      sd += dl * dl;
      dot += wv * o;
      nw += wv * wv;
      no += o * o;
    }
  } else {
    for (let j = 0; j < n; j++) {
      const wv = wt[j];
      const dl = s * dv[dAt + j];
      let o = wv;
      if (dl !== 0) {
        ot[j] = wv + dl;
        const h = f32BitsToF16Bits(oi[j]);
        w16[at + j] = h;
        o = table[h];
        changed = changed || o !== wv;
        if (o - o !== 0 && wv - wv === 0) nonFinite(st, at + j, wv, o);
      }
      sd += dl * dl;
      dot += wv * o;
      nw += wv * wv;
      no += o * o;
    }
  }
  st.sumDelta2 += sd;
  st.dot += dot;
  st.normW2 += nw;
  st.normOut2 += no;
  st.changed = st.changed || changed;
}

/**
 * Decodes `n` 16-bit values from `src[at..]` into `dst` (a tile).
 * @param {boolean} bf16
 * @param {Uint16Array} src
 * @param {number} at
 * @param {number} n
 * @param {Float32Array} dst
 */
function decodeTile(bf16, src, at, n, dst) {
  if (bf16) {
    const bits = new Int32Array(dst.buffer, dst.byteOffset, TILE);
    for (let j = 0; j < n; j++) bits[j] = src[at + j] << 16;
  } else {
    const table = F16_TO_F32;
    for (let j = 0; j < n; j++) dst[j] = table[src[at + j]];
  }
}

/**
 * Applies `s * d` to a block of `count` weights stored in `w` (little-endian `dtype`) from byte `wAt` (default 0),
 * in place. `d` is either a buffer of `dDtype` values (from byte `dAt`, default 0) or a Float64Array of delta
 * values (LoRA). Buffers may be shared (SharedArrayBuffer); offsets must be multiples of the element size.
 * @param {{ dtype: FloatDtype, w: ArrayBufferLike, wAt?: number, count: number, s: number, d: ArrayBufferLike | Float64Array, dAt?: number, dDtype?: FloatDtype }} job
 * @param {Scratch} scratch
 * @returns {BlockStats}
 */
export function applyBlock(job, scratch) {
  const { dtype, w, count, s } = job;
  const wAt = job.wAt ?? 0;
  const dAt = job.dAt ?? 0;
  const st = emptyStats();
  const lora = job.d instanceof Float64Array ? job.d : undefined;
  const dDtype = job.dDtype ?? 'F32';
  const dBuffer = /** @type {ArrayBufferLike} */ (job.d);
  const d32 = !lora && dDtype === 'F32' ? new Float32Array(dBuffer, dAt, count) : undefined;
  const d16 = !lora && !d32 ? new Uint16Array(dBuffer, dAt, count) : undefined;
  const dBf16 = dDtype === 'BF16';
  if (dtype === 'F32') {
    const wf = new Float32Array(w, wAt, count);
    const whole = lora ?? d32;
    if (whole) {
      loopF32(wf, 0, whole, 0, count, s, st);
      return st;
    }
    for (let at = 0; at < count; at += TILE) {
      const n = Math.min(TILE, count - at);
      decodeTile(dBf16, /** @type {Uint16Array} */ (d16), at, n, scratch.d);
      loopF32(wf, at, scratch.d, 0, n, s, st);
    }
    return st;
  }
  const bf16 = dtype === 'BF16';
  const w16 = new Uint16Array(w, wAt, count);
  for (let at = 0; at < count; at += TILE) {
    const n = Math.min(TILE, count - at);
    decodeTile(bf16, w16, at, n, scratch.w);
    /** @type {Float32Array | Float64Array} */
    let dv;
    let dAt = at;
    if (lora) dv = lora;
    else if (d32) dv = d32;
    else {
      decodeTile(dBf16, /** @type {Uint16Array} */ (d16), at, n, scratch.d);
      dv = scratch.d;
      dAt = 0;
    }
    loop16(bf16, w16, at, dv, dAt, n, s, scratch, st);
  }
  return st;
}
