// IEEE binary16 (F16) and bfloat16 (BF16) <-> binary32 conversions.
// Plain JavaScript (ESM + JSDoc) so that the align worker, which Node starts
// without a TypeScript loader, shares these exact functions with the main
// thread; types are in float16.d.ts. Node 20 has no Float16Array.
// f32 -> 16-bit rounds to nearest, ties to even; f16 overflows to ±Inf and
// underflows gradually through subnormals; NaN stays NaN (quiet, sign kept).

const f32 = new Float32Array(1);
/** 2^-24, the smallest F16 subnormal: `mant * F16_MIN_SUBNORMAL` is exact in binary32. */
const F16_MIN_SUBNORMAL = 2 ** -24;
const u32 = new Uint32Array(f32.buffer);

/**
 * Decodes all 65536 F16 bit patterns; a lookup is faster than bit fiddling. Built from bits with integer ops (no
 * `**`: this runs at every start of an align worker, before any code is optimised); NaN payloads are kept.
 */
export const F16_TO_F32 = (() => {
  const table = new Float32Array(65536);
  const bits = new Uint32Array(table.buffer);
  for (let h = 0; h < 65536; h++) {
    const sign = (h & 0x8000) << 16;
    const exp = (h >> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 31) bits[h] = sign | 0x7f800000 | (mant << 13);
    else if (exp !== 0) bits[h] = sign | ((exp + 112) << 23) | (mant << 13);
    else if (mant !== 0) table[h] = (sign ? -mant : mant) * F16_MIN_SUBNORMAL;
    else bits[h] = sign;
  }
  return table;
})();

/**
 * Rounds the binary32 bit pattern `x` to F16 bits, to nearest, ties to even.
 * @param {number} x binary32 bits (as an unsigned or signed 32-bit integer)
 * @returns {number} F16 bits
 */
export function f32BitsToF16Bits(x) {
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return mant ? sign | 0x7e00 | (mant >>> 13) : sign | 0x7c00;
  const e = exp - 112; // rebias 127 -> 15
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    // Subnormal F16 (or zero): 24-bit significand shifted into units of 2^-24.
    if (e < -10) return sign;
    const m = mant | 0x800000;
    const shift = 14 - e;
    let half = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++; // a carry into the exponent is right, up to Inf
  return sign | half;
}

/**
 * Rounds the binary32 bit pattern `x` to BF16 bits, to nearest, ties to even.
 * @param {number} x binary32 bits
 * @returns {number} BF16 bits
 */
export function f32BitsToBf16Bits(x) {
  if ((x & 0x7f800000) === 0x7f800000 && x & 0x7fffff) return ((x >>> 16) | 0x40) & 0xffff;
  return ((x >>> 0) + 0x7fff + ((x >>> 16) & 1)) >>> 16;
}

/**
 * F16 bits to a number (exact).
 * @param {number} h
 * @returns {number}
 */
export function f16ToF32(h) {
  return F16_TO_F32[h & 0xffff];
}

/**
 * BF16 bits to a number (exact): the bits are the top half of a binary32.
 * @param {number} b
 * @returns {number}
 */
export function bf16ToF32(b) {
  u32[0] = (b & 0xffff) << 16;
  return f32[0];
}

/**
 * A number to F16 bits: first rounded to binary32 (Math.fround), then to F16.
 * @param {number} v
 * @returns {number}
 */
export function f32ToF16(v) {
  f32[0] = v;
  return f32BitsToF16Bits(u32[0]);
}

/**
 * A number to BF16 bits: first rounded to binary32 (Math.fround), then to BF16.
 * @param {number} v
 * @returns {number}
 */
export function f32ToBf16(v) {
  f32[0] = v;
  return f32BitsToBf16Bits(u32[0]);
}

/**
 * Decodes `src` (F16 or BF16 bits) into `dst` element by element.
 * @param {'F16' | 'BF16'} dtype
 * @param {Uint16Array} src
 * @param {Float32Array} dst at least src.length long
 */
export function decode16(dtype, src, dst) {
  const n = src.length;
  if (dtype === 'F16') {
    const table = F16_TO_F32;
    for (let i = 0; i < n; i++) dst[i] = table[src[i]];
  } else {
    const bits = new Uint32Array(dst.buffer, dst.byteOffset, n);
    for (let i = 0; i < n; i++) bits[i] = src[i] << 16;
  }
}

/**
 * Encodes `src` (binary32 values) into `dst` as F16 or BF16 bits.
 * @param {'F16' | 'BF16'} dtype
 * @param {Float32Array} src
 * @param {Uint16Array} dst at least src.length long
 */
export function encode16(dtype, src, dst) {
  const n = src.length;
  const bits = new Uint32Array(src.buffer, src.byteOffset, n);
  if (dtype === 'F16') {
    for (let i = 0; i < n; i++) dst[i] = f32BitsToF16Bits(bits[i]);
  } else {
    for (let i = 0; i < n; i++) dst[i] = f32BitsToBf16Bits(bits[i]);
  }
}
