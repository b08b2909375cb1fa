// The WebAssembly SIMD kernel (F32/F32 and BF16/BF16 full deltas) writes exactly the bytes of the JS kernel
// on random blocks salted with ties, zeros, -0, NaN, ±Inf, subnormals and huge values; its sums agree; and it
// stops at the group where a finite weight would become NaN/Inf, leaving the rest unwritten.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyBlock, createScratch } from '../src/align/align-kernel.js';
import { createSimdKernel } from '../src/align/align-simd.js';

const simd = createSimdKernel();
const scratch = createScratch();
const specials = [
  0,
  -0,
  1,
  -1,
  1 + 2 ** -8,
  3e38,
  -3e38,
  1e-40,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
];

function bits(dtype: 'F32' | 'BF16', values: number[]): ArrayBuffer {
  const f = Float32Array.from(values);
  if (dtype === 'F32') return f.buffer;
  const u = new Uint32Array(f.buffer);
  return Uint16Array.from(u, (x) => x >>> 16).buffer;
}

const value = fc.oneof(
  { weight: 6, arbitrary: fc.float({ min: -16, max: 16, noNaN: true }) },
  { weight: 1, arbitrary: fc.constantFrom(...specials) },
);

describe('align SIMD kernel', () => {
  it('is available on Node 20', () => {
    expect(simd).toBeDefined();
  });

  it('writes the same bytes as the JS kernel, and the same sums', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<'F32' | 'BF16'>('F32', 'BF16'),
        fc
          .integer({ min: 1, max: 300 })
          .chain((n) =>
            fc.tuple(fc.array(value, { minLength: n, maxLength: n }), fc.array(value, { minLength: n, maxLength: n })),
          ),
        fc.oneof(fc.constant(0), fc.double({ min: 0, max: 2, noNaN: true })),
        (dtype, [w, d], s) => {
          const count = w.length - (w.length % 4);
          const js = bits(dtype, w.slice(0, count));
          const wasm = js.slice(0);
          const dBits = bits(dtype, d.slice(0, count));
          const expected = applyBlock({ dtype, w: js, count, s, d: dBits.slice(0), dDtype: dtype }, scratch);
          const got = simd!.apply(dtype, wasm, dBits.slice(0), count, s);
          const size = dtype === 'F32' ? 4 : 2;
          if (expected.nonFiniteAt >= 0) {
            // SIMD stops at the group of 4 holding the first bad element; everything before it matches.
            expect(got.done).toBe(expected.nonFiniteAt - (expected.nonFiniteAt % 4));
            expect(Buffer.from(wasm, 0, got.done * size)).toEqual(Buffer.from(js, 0, got.done * size));
            return;
          }
          expect(got.done).toBe(count);
          expect(Buffer.from(wasm)).toEqual(Buffer.from(js));
          expect(got.stats.changed).toBe(expected.changed);
          for (const key of ['sumDelta2', 'dot', 'normW2', 'normOut2'] as const) {
            const a = got.stats[key];
            const b = expected[key];
            if (Number.isFinite(b)) expect(Math.abs(a - b)).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(b)));
            else expect(Number.isNaN(a)).toBe(Number.isNaN(b));
          }
        },
      ),
      { numRuns: 400 },
    );
  });
});
