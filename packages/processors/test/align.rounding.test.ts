// 16-bit outputs: w' is rounded to binary32 first, then to BF16/F16 with ties to even; an F16 weight that
// overflows to Inf is E_NONFINITE and leaves no output; a weight that was already non-finite is not an error.
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { alignPackage } from '../src/align/index.ts';
import { NonFiniteError } from '../src/index.ts';
import { writeSafetensors } from '../src/safetensors/index.ts';
import { collect, partialsIn, readBytes, tempFolder, tensor } from './fixtures-weights/models.ts';

let dir: string;
let remove: () => Promise<void>;
beforeEach(async () => {
  ({ dir, remove } = await tempFolder());
});
afterEach(() => remove());

const u16 = (bytes: Uint8Array) => Array.from(new Uint16Array(bytes.slice().buffer));

async function alignOne(dtype: string, w: number[], d: number[], dDtype = 'F32', strength = 1) {
  const base = join(dir, `base-${dtype}.safetensors`);
  const pkg = join(dir, `delta-${dtype}.safetensors`);
  const output = join(dir, `out-${dtype}.safetensors`);
  await writeSafetensors(base, [tensor('model.layers.0.w', w, dtype)]);
  await writeSafetensors(pkg, [tensor('model.layers.0.w', d, dDtype)]);
  const chunks = await collect(alignPackage({ baseWeights: base, package: pkg, strength, output }));
  return { chunks, bits: u16(await readBytes(output, 'model.layers.0.w')) };
}

describe('align 16-bit rounding', () => {
  it('BF16 ties go to the even neighbour', async () => {
    const t = 2 ** -8;
    const { bits } = await alignOne('BF16', [1, 1, -1, 1, 2], [t, 3 * t, -t, t * 0.99, 2 * t]);
    // 1+2^-8: tie between 0x3f80 (even) and 0x3f81 -> 0x3f80; 1+3*2^-8: tie between 0x3f81 and 0x3f82 (even) -> 0x3f82;
    // -1-2^-8 -> -1; just below the tie rounds down; 2 + 2^-7 is a tie at exponent 1 -> 2 (0x4000).
    expect(bits).toEqual([0x3f80, 0x3f82, 0xbf80, 0x3f80, 0x4000]);
  });

  it('rounds to binary32 before BF16 (double rounding, as the processors README says)', async () => {
    // 1 + 2^-8 + 2^-30 is above the BF16 tie, but binary32 first rounds it onto the tie, which then goes to even.
    const { bits } = await alignOne('BF16', [1], [2 ** -8 + 2 ** -30]);
    expect(bits).toEqual([0x3f80]);
  });

  it('F16 ties go to even, and 65519 still rounds down to 65504', async () => {
    const { bits } = await alignOne('F16', [1, 1, 65504], [2 ** -11, 3 * 2 ** -11, 15], 'F16');
    expect(bits).toEqual([0x3c00, 0x3c02, 0x7bff]);
  });

  it('F16 overflow to Inf is E_NONFINITE and leaves no output and no partial', async () => {
    const error = await alignOne('F16', [1, 65504], [0, 16], 'F16').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NonFiniteError);
    expect((error as NonFiniteError).code).toBe('E_NONFINITE');
    expect((error as NonFiniteError).message).toMatch(/model\.layers\.0\.w\[1\]: 65504 became Infinity/);
    expect(await partialsIn(dir)).toEqual([]);
    await expect(readBytes(join(dir, 'out-F16.safetensors'), 'model.layers.0.w')).rejects.toMatchObject({
      code: 'ENOENT',
    });
  });

  it('a weight that already was Inf or NaN may stay so', async () => {
    const { bits } = await alignOne('BF16', [Number.POSITIVE_INFINITY, Number.NaN, 1], [1, 1, 1]);
    expect(bits[0]).toBe(0x7f80);
    expect(bits[1] & 0x7f80).toBe(0x7f80);
    expect(bits[2]).toBe(0x4000);
  });
});
