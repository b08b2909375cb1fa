// The golden example (processors README, "align"), bit for bit, and the variants that keep its shape:
// a layer subset, strength 0 (byte-identical, score exactly 1), the output header (order, metadata).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { alignPackage } from '../src/align/index.ts';
import { readSafetensorsHeader } from '../src/safetensors/index.ts';
import { collect, partialsIn, readBytes, readValues, tempFolder, writeGolden } from './fixtures-weights/models.ts';

const L0 = 'model.layers.0.mlp.down_proj.weight';
const L1 = 'model.layers.1.mlp.down_proj.weight';
const NORM = 'model.norm.weight';
const f32Bytes = (values: number[]) => new Uint8Array(new Float32Array(values).buffer);

let dir: string;
let remove: () => Promise<void>;
let base: string;
let pkg: string;
beforeEach(async () => {
  ({ dir, remove } = await tempFolder());
  ({ base, pkg } = await writeGolden(dir));
});
afterEach(() => remove());

describe('align golden example', () => {
  it('strength 0.5 gives the documented weights, norms, progress and score', async () => {
    const output = join(dir, 'aligned.safetensors');
    const chunks = await collect(alignPackage({ baseWeights: base, package: pkg, strength: 0.5, output }));
    expect(chunks).toHaveLength(2);
    expect(chunks[0]).toMatchObject({ layerIndex: 0, totalLayers: 2, progressPct: 50, isFinal: false });
    expect(chunks[0].deltaNorm).toBe(Math.SQRT2);
    expect(chunks[0].alignmentScore).toBeUndefined();
    expect(chunks[0].outputPath).toBeUndefined();
    expect(chunks[1]).toMatchObject({
      layerIndex: 1,
      totalLayers: 2,
      progressPct: 100,
      isFinal: true,
      outputPath: output,
    });
    expect(chunks[1].deltaNorm).toBe(1);
    expect(chunks[1].alignmentScore).toBe(10 / Math.sqrt(130));
    expect(chunks[1].alignmentScore).toBeCloseTo(0.8770580193, 10);

    expect(await readBytes(output, L0)).toEqual(f32Bytes([1, 1, 1, 1]));
    expect(await readBytes(output, L1)).toEqual(f32Bytes([2, 0, 1, 2]));
    expect(await readBytes(output, NORM)).toEqual(await readBytes(base, NORM));
    expect(await partialsIn(dir)).toEqual([]);
  });

  it('keeps names, shapes, dtypes and header order, and records the package and strength in __metadata__', async () => {
    const output = join(dir, 'aligned.safetensors');
    await collect(alignPackage({ baseWeights: base, package: pkg, strength: 0.5, output }));
    const before = await readSafetensorsHeader(base);
    const after = await readSafetensorsHeader(output);
    expect(after.tensors).toEqual(before.tensors);
    expect(after.headerSize % 8).toBe(0);
    expect(after.metadata).toMatchObject({ 'alignment.package': pkg, 'alignment.strength': '0.5' });
  });

  it('a layer subset modifies only those layers, and still reports every layer', async () => {
    const output = join(dir, 'subset.safetensors');
    const chunks = await collect(alignPackage({ baseWeights: base, package: pkg, strength: 0.5, output, layers: [1] }));
    expect(chunks.map((c) => [c.layerIndex, c.deltaNorm, c.progressPct])).toEqual([
      [0, 0, 50],
      [1, 1, 100],
    ]);
    expect(await readBytes(output, L0)).toEqual(await readBytes(base, L0));
    expect(await readValues(output, L1)).toEqual([2, 0, 1, 2]);
    // Over the modified tensor only: w = [2,0,0,2], w' = [2,0,1,2].
    expect(chunks[1].alignmentScore).toBe(8 / Math.sqrt(8 * 9));
  });

  it('strength 0 leaves every tensor byte-identical and the score exactly 1', async () => {
    const output = join(dir, 'zero.safetensors');
    const chunks = await collect(alignPackage({ baseWeights: base, package: pkg, strength: 0, output }));
    expect(chunks.map((c) => c.deltaNorm)).toEqual([0, 0]);
    expect(chunks.at(-1)!.alignmentScore).toBe(1);
    for (const name of [L0, L1, NORM]) expect(await readBytes(output, name)).toEqual(await readBytes(base, name));
  });

  it('strength 2 doubles the delta; the output replaces an existing file atomically', async () => {
    const output = join(dir, 'twice.safetensors');
    await collect(alignPackage({ baseWeights: base, package: pkg, strength: 0.5, output }));
    const first = await readFile(output);
    await collect(alignPackage({ baseWeights: base, package: pkg, strength: 2, output }));
    expect(await readValues(output, L0)).toEqual([1, 4, 4, 1]);
    expect(await readValues(output, L1)).toEqual([2, 0, 4, 2]);
    expect(await readFile(output)).not.toEqual(first);
  });
});
