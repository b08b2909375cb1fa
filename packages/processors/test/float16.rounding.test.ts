// F16 and BF16 conversions: exact decoding, round to nearest with ties to even, overflow to ±Inf,
// gradual underflow for F16, NaN kept NaN. Checked exhaustively over every 16-bit pattern.
import { describe, expect, it } from 'vitest';
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from '../src/safetensors/float16.js';

const isNaN16 = (h: number, expMask: number, mantMask: number) => (h & expMask) === expMask && (h & mantMask) !== 0;

describe('F16', () => {
  it('decodes known values', () => {
    expect(f16ToF32(0x3c00)).toBe(1);
    expect(f16ToF32(0xc000)).toBe(-2);
    expect(f16ToF32(0x7bff)).toBe(65504);
    expect(f16ToF32(0x0001)).toBe(2 ** -24);
    expect(f16ToF32(0x03ff)).toBe(1023 * 2 ** -24);
    expect(f16ToF32(0x7c00)).toBe(Number.POSITIVE_INFINITY);
    expect(Object.is(f16ToF32(0x8000), -0)).toBe(true);
    expect(f16ToF32(0x7e00)).toBeNaN();
  });

  it('round-trips every non-NaN pattern and rounds every midpoint to the even neighbour', () => {
    const wrong: string[] = [];
    const check = (input: number, got: number, want: number) => {
      if (got !== want) wrong.push(`${input} -> 0x${got.toString(16)}, want 0x${want.toString(16)}`);
    };
    for (let h = 0; h < 0x10000; h++) {
      if (isNaN16(h, 0x7c00, 0x3ff)) {
        if (!isNaN16(f32ToF16(f16ToF32(h)), 0x7c00, 0x3ff)) wrong.push(`NaN 0x${h.toString(16)} lost`);
        continue;
      }
      check(f16ToF32(h), f32ToF16(f16ToF32(h)), h);
      // Midpoint between h and the next pattern of the same sign (magnitudes below Inf): exact in f32.
      if ((h & 0x7fff) < 0x7bff) {
        const a = f16ToF32(h);
        const b = f16ToF32(h + 1);
        const mid = (a + b) / 2;
        check(mid, f32ToF16(mid), (h & 1) === 0 ? h : h + 1);
        // Just off the midpoint goes to the nearer neighbour.
        const nudge = (b - a) * 2 ** -6;
        check(mid - nudge, f32ToF16(mid - nudge), h);
        check(mid + nudge, f32ToF16(mid + nudge), h + 1);
      }
    }
    expect(wrong.slice(0, 10)).toEqual([]);
  });

  it('overflows to Inf at and above the midpoint past 65504', () => {
    expect(f32ToF16(65519)).toBe(0x7bff);
    expect(f32ToF16(65520)).toBe(0x7c00);
    expect(f32ToF16(-1e6)).toBe(0xfc00);
  });

  it('underflows gradually, ties to even at half the smallest subnormal', () => {
    expect(f32ToF16(2 ** -24)).toBe(0x0001);
    expect(f32ToF16(2 ** -25)).toBe(0x0000);
    expect(f32ToF16(1.5 * 2 ** -24)).toBe(0x0002);
    expect(f32ToF16(2 ** -25 * 1.0001)).toBe(0x0001);
    expect(f32ToF16(-(2 ** -30))).toBe(0x8000);
  });
});

describe('BF16', () => {
  it('decodes as the top half of a binary32', () => {
    expect(bf16ToF32(0x3f80)).toBe(1);
    expect(bf16ToF32(0xc040)).toBe(-3);
    expect(bf16ToF32(0x7f80)).toBe(Number.POSITIVE_INFINITY);
  });

  it('round-trips every non-NaN pattern and rounds every midpoint to even', () => {
    const wrong: string[] = [];
    for (let b = 0; b < 0x10000; b++) {
      if (isNaN16(b, 0x7f80, 0x7f)) {
        if (!isNaN16(f32ToBf16(bf16ToF32(b)), 0x7f80, 0x7f)) wrong.push(`NaN 0x${b.toString(16)} lost`);
        continue;
      }
      if (f32ToBf16(bf16ToF32(b)) !== b) wrong.push(`0x${b.toString(16)} does not round-trip`);
      if ((b & 0x7fff) < 0x7f7f) {
        const mid = (bf16ToF32(b) + bf16ToF32(b + 1)) / 2;
        if (f32ToBf16(mid) !== ((b & 1) === 0 ? b : b + 1))
          wrong.push(`midpoint above 0x${b.toString(16)} not to even`);
      }
    }
    expect(wrong.slice(0, 10)).toEqual([]);
  });

  it('ties to even: 1 + 2^-8 rounds down to 1, 1 + 3 * 2^-8 rounds up', () => {
    expect(f32ToBf16(1 + 2 ** -8)).toBe(0x3f80);
    expect(f32ToBf16(1 + 3 * 2 ** -8)).toBe(0x3f82);
  });

  it('overflows to Inf past the largest finite value', () => {
    expect(f32ToBf16(3.4e38)).toBe(0x7f80);
    expect(bf16ToF32(0x7f7f)).toBeLessThan(3.4e38);
  });
});
