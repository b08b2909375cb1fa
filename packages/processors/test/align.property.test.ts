// Property: on random tensors (F32, F16, BF16 bases; full F32/F16/BF16 deltas or LoRA pairs; any strength in
// [0, 2]; any block size), every output weight is within 1 ulp of the output dtype of the plain f64 result
// w + s * d, deltaNorm and alignmentScore match an f64 reference, and zero deltas leave bytes untouched.
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alignPackage } from '../src/align/index.ts';
import { decodeFloats, encodeFloats, writeSafetensors } from '../src/safetensors/index.ts';
import { collect, readBytes, tempFolder, tensorOf } from './fixtures-weights/models.ts';

let dir: string;
let remove: () => Promise<void>;
beforeAll(async () => {
  ({ dir, remove } = await tempFolder());
});
afterAll(() => remove());

type Dtype = 'F32' | 'F16' | 'BF16';
const MANTISSA: Record<Dtype, number> = { F32: 23, F16: 10, BF16: 7 };
const MIN_EXP: Record<Dtype, number> = { F32: -126, F16: -14, BF16: -126 };

/** The spacing of `dtype` values around |x|. */
function ulp(dtype: Dtype, x: number): number {
  const e = x === 0 ? MIN_EXP[dtype] : Math.max(MIN_EXP[dtype], Math.floor(Math.log2(Math.abs(x))));
  return 2 ** (e - MANTISSA[dtype]);
}

/** Values exactly representable in `dtype`, moderate so that F16 cannot overflow. */
const values = (dtype: Dtype, n: number) =>
  fc
    .array(fc.float({ min: -8, max: 8, noNaN: true, noDefaultInfinity: true }), { minLength: n, maxLength: n })
    .map((v) => Array.from(decodeFloats(dtype, encodeFloats(dtype, v))));

const dtypes = fc.constantFrom<Dtype>('F32', 'F16', 'BF16');

const scenario = fc
  .record({
    rows: fc.integer({ min: 1, max: 6 }),
    cols: fc.integer({ min: 1, max: 9 }),
    rank: fc.integer({ min: 1, max: 3 }),
  })
  .chain(({ rows, cols, rank }) =>
    fc
      .record({
        rows: fc.constant(rows),
        cols: fc.constant(cols),
        rank: fc.constant(rank),
        dtype: dtypes,
        dDtype: dtypes,
        lora: fc.boolean(),
        alpha: fc.constantFrom(undefined, 1, 3, 16),
        strength: fc.oneof(fc.constant(0), fc.constant(2), fc.double({ min: 0, max: 2, noNaN: true })),
        blockBytes: fc.integer({ min: 64, max: 300 }),
        seed: fc.integer(),
      })
      .chain((s) =>
        fc.record({
          s: fc.constant(s),
          w: values(s.dtype, rows * cols),
          d: values(s.dDtype, rows * cols),
          a: values('F32', rank * cols),
          b: values(s.dDtype, rows * rank),
        }),
      ),
  );

let run = 0;

describe('align property', () => {
  it('matches an f64 reference within 1 ulp of the output dtype', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async ({ s, w, d, a, b }) => {
        const id = run++;
        const name = 'model.layers.0.proj.weight';
        const base = join(dir, `base-${id}.safetensors`);
        const pkg = join(dir, `delta-${id}.safetensors`);
        const output = join(dir, `out-${id}.safetensors`);
        await writeSafetensors(base, [tensorOf(name, [s.rows, s.cols], w, s.dtype)]);
        if (s.lora) {
          await writeSafetensors(
            pkg,
            [
              tensorOf(name.replace('.weight', '.lora_A.weight'), [s.rank, s.cols], a, 'F32'),
              tensorOf(name.replace('.weight', '.lora_B.weight'), [s.rows, s.rank], b, s.dDtype),
            ],
            s.alpha === undefined ? {} : { lora_alpha: String(s.alpha) },
          );
        } else {
          await writeSafetensors(pkg, [tensorOf(name, [s.rows, s.cols], d, s.dDtype)]);
        }
        const chunks = await collect(
          alignPackage({ baseWeights: base, package: pkg, strength: s.strength, output, blockBytes: s.blockBytes }),
        );
        const outBytes = await readBytes(output, name);
        const inBytes = await readBytes(base, name);
        const out = Array.from(decodeFloats(s.dtype, outBytes));
        const scale = (s.alpha ?? s.rank) / s.rank;
        let sumDelta2 = 0;
        let dot = 0;
        let n1 = 0;
        let n2 = 0;
        const size = s.dtype === 'F32' ? 4 : 2;
        for (let i = 0; i < w.length; i++) {
          let dv = d[i];
          if (s.lora) {
            const row = Math.floor(i / s.cols);
            const col = i % s.cols;
            let sum = 0;
            for (let k = 0; k < s.rank; k++) sum += b[row * s.rank + k] * a[k * s.cols + col];
            dv = scale * sum;
          }
          const delta = s.strength * dv;
          const exact = w[i] + delta;
          if (delta === 0) {
            expect(outBytes.subarray(i * size, (i + 1) * size)).toEqual(inBytes.subarray(i * size, (i + 1) * size));
          } else {
            expect(Math.abs(out[i] - exact)).toBeLessThanOrEqual(
              ulp(s.dtype, Math.max(Math.abs(exact), Math.abs(out[i]))),
            );
          }
          sumDelta2 += delta * delta;
          dot += w[i] * out[i];
          n1 += w[i] * w[i];
          n2 += out[i] * out[i];
        }
        expect(chunks).toHaveLength(1);
        expect(chunks[0].deltaNorm).toBeCloseTo(Math.sqrt(sumDelta2), 9);
        const changed = out.some((v, i) => v !== w[i]);
        const score = !changed ? 1 : n1 === 0 || n2 === 0 ? (n1 === n2 ? 1 : 0) : dot / Math.sqrt(n1 * n2);
        expect(chunks[0].alignmentScore).toBeCloseTo(score, 9);
      }),
      { numRuns: 100 },
    );
  }, 60_000);
});
