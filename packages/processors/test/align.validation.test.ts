// Everything align refuses, with its code, before the first output byte: corrupt and truncated files (E_FORMAT),
// unmatched names (E_UNMATCHED, listed), both forms for one tensor (E_CONFLICT), shape mismatches (E_SHAPE),
// arithmetic on non-float tensors (E_DTYPE), out-of-range strength and unknown layers (RangeError).
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { alignPackage } from '../src/align/index.ts';
import { DeltaConflictError, DtypeError, FormatError, ShapeError, UnmatchedError } from '../src/index.ts';
import { writeSafetensors } from '../src/safetensors/index.ts';
import { collect, readBytes, tempFolder, tensor, writeGolden } from './fixtures-weights/models.ts';

let dir: string;
let remove: () => Promise<void>;
let base: string;
let pkg: string;
let output: string;
beforeEach(async () => {
  ({ dir, remove } = await tempFolder());
  ({ base, pkg } = await writeGolden(dir));
  output = join(dir, 'out.safetensors');
});
afterEach(async () => {
  // Nothing but the inputs: no output, no partial.
  expect(
    (await readdir(dir)).filter((n) => !n.startsWith('base') && !n.startsWith('delta') && !n.startsWith('bad')),
  ).toEqual([]);
  await remove();
});

const L0 = 'model.layers.0.mlp.down_proj.weight';
const run = (options: Partial<Parameters<typeof alignPackage>[0]> = {}) =>
  collect(alignPackage({ baseWeights: base, package: pkg, strength: 1, output, ...options }));

async function writePackage(tensors: Parameters<typeof writeSafetensors>[1], metadata?: Record<string, string>) {
  const path = join(dir, 'delta-custom.safetensors');
  await writeSafetensors(path, tensors, metadata);
  return path;
}

describe('align validation', () => {
  it('E_FORMAT: a corrupt base and a truncated package', async () => {
    const bytes = await readFile(base);
    const corrupt = join(dir, 'bad-base.safetensors');
    await writeFile(
      corrupt,
      Buffer.concat([Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0]), bytes.subarray(8)]),
    );
    await expect(run({ baseWeights: corrupt })).rejects.toMatchObject({ code: 'E_FORMAT', reason: 'header-too-large' });
    const truncated = join(dir, 'bad-delta.safetensors');
    const pkgBytes = await readFile(pkg);
    await writeFile(truncated, pkgBytes.subarray(0, pkgBytes.length - 5));
    const error = await run({ package: truncated }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FormatError);
    expect(error).toMatchObject({ code: 'E_FORMAT', reason: 'data-length' });
  });

  it('E_UNMATCHED lists every package tensor that matches nothing, including half LoRA pairs', async () => {
    const path = await writePackage([
      tensor('model.layers.7.mlp.down_proj.weight', [[1]]),
      tensor('model.layers.1.mlp.down_proj.lora_A.weight', [[1, 0]]),
      tensor(L0, [
        [0, 1],
        [1, 0],
      ]),
    ]);
    const error = (await run({ package: path }).catch((e: unknown) => e)) as UnmatchedError;
    expect(error).toBeInstanceOf(UnmatchedError);
    expect(error.code).toBe('E_UNMATCHED');
    expect(error.names).toEqual(['model.layers.7.mlp.down_proj.weight', 'model.layers.1.mlp.down_proj.lora_A.weight']);
    expect(error.message).toContain('model.layers.7.mlp.down_proj.weight');
  });

  it('E_CONFLICT: a full delta and a LoRA pair for the same tensor', async () => {
    const path = await writePackage([
      tensor(L0, [
        [0, 1],
        [1, 0],
      ]),
      tensor(`base_model.model.${L0.replace('.weight', '.lora_A.weight')}`, [[1, 0]]),
      tensor(`base_model.model.${L0.replace('.weight', '.lora_B.weight')}`, [[0], [1]]),
    ]);
    await expect(run({ package: path })).rejects.toBeInstanceOf(DeltaConflictError);
    await expect(run({ package: path })).rejects.toMatchObject({ code: 'E_CONFLICT', tensor: L0 });
  });

  it('E_SHAPE: a full delta of another shape, LoRA factors that do not multiply to the base shape', async () => {
    const wrongFull = await writePackage([tensor(L0, [[0, 1, 1]])]);
    await expect(run({ package: wrongFull })).rejects.toBeInstanceOf(ShapeError);
    const wrongLora = await writePackage([
      tensor(L0.replace('.weight', '.lora_A.weight'), [[1, 0, 0]]),
      tensor(L0.replace('.weight', '.lora_B.weight'), [[0], [1]]),
    ]);
    await expect(run({ package: wrongLora })).rejects.toMatchObject({ code: 'E_SHAPE', tensor: L0 });
  });

  it('E_DTYPE: arithmetic asked of an integer tensor (base or delta)', async () => {
    const intBase = join(dir, 'base-int.safetensors');
    await writeSafetensors(intBase, [{ name: L0, dtype: 'I32', shape: [2], data: new Int32Array([1, 2]) }]);
    const delta = await writePackage([tensor(L0, [1, 1])]);
    await expect(run({ baseWeights: intBase, package: delta })).rejects.toBeInstanceOf(DtypeError);
    const intDelta = await writePackage([{ name: L0, dtype: 'I64', shape: [2, 2], data: new BigInt64Array(4) }]);
    await expect(run({ package: intDelta })).rejects.toMatchObject({ code: 'E_DTYPE', dtype: 'I64' });
  });

  it('copies non-float tensors the package does not touch, byte for byte', async () => {
    const mixed = join(dir, 'base-mixed.safetensors');
    await writeSafetensors(mixed, [
      tensor(L0, [
        [1, 0],
        [0, 1],
      ]),
      { name: 'model.position_ids', dtype: 'I64', shape: [3], data: new BigInt64Array([0n, 1n, 2n]) },
    ]);
    const delta = await writePackage([
      tensor(L0, [
        [0, 1],
        [1, 0],
      ]),
    ]);
    const target = join(dir, 'mixed-out.safetensors');
    await collect(alignPackage({ baseWeights: mixed, package: delta, strength: 1, output: target }));
    expect(await readBytes(target, 'model.position_ids')).toEqual(await readBytes(mixed, 'model.position_ids'));
    await rm(target);
  });

  it('RangeError for a strength outside [0, 2] or not finite, before touching any file', async () => {
    for (const strength of [-0.01, 2.0001, Number.NaN, Number.POSITIVE_INFINITY]) {
      await expect(run({ strength, baseWeights: join(dir, 'missing') })).rejects.toBeInstanceOf(RangeError);
    }
  });

  it('RangeError for layers the base does not have', async () => {
    await expect(run({ layers: [5] })).rejects.toThrow(/layers 5 are not in the base/);
    await expect(run({ layers: [-1] })).rejects.toBeInstanceOf(RangeError);
  });

  it('E_FORMAT for a lora_alpha that is not a number', async () => {
    const path = await writePackage(
      [
        tensor(L0.replace('.weight', '.lora_A.weight'), [[1, 0]]),
        tensor(L0.replace('.weight', '.lora_B.weight'), [[0], [1]]),
      ],
      { lora_alpha: 'sixteen' },
    );
    await expect(run({ package: path })).rejects.toMatchObject({ code: 'E_FORMAT', reason: 'invalid-metadata' });
  });

  it('refuses to write over one of its inputs', async () => {
    await expect(run({ output: base })).rejects.toMatchObject({ code: 'E_OUTPUT' });
  });
});
