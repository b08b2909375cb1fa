// The output's parent folder need not exist: align creates it (nested folders too) before opening the partial,
// for a single-file base and for a folder base. A run that fails or stops leaves no partial, no output and none
// of the folders it created; folders that existed before are kept.
import { mkdir, readdir, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { jsonPart } from '@sluice/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { align, alignPackage, alignWorkerCount } from '../src/align/index.ts';
import { NonFiniteError } from '../src/index.ts';
import { writeSafetensors } from '../src/safetensors/index.ts';
import { collect, partialsIn, readValues, tempFolder, tensor, writeGolden } from './fixtures-weights/models.ts';

let dir: string;
let remove: () => Promise<void>;
let base: string;
let pkg: string;
beforeEach(async () => {
  ({ dir, remove } = await tempFolder());
  ({ base, pkg } = await writeGolden(dir));
});
afterEach(() => remove());

const L1 = 'model.layers.1.mlp.down_proj.weight';

/** A package whose delta overflows binary32 in layer 1, after layer 0's chunk was yielded. */
async function writeOverflowPackage(): Promise<string> {
  const path = join(dir, 'overflow.safetensors');
  await writeSafetensors(path, [
    tensor('model.layers.0.mlp.down_proj.weight', [
      [0, 1],
      [1, 0],
    ]),
    tensor(L1, [
      [0, 3e38],
      [0, 0],
    ]),
    tensor('model.norm.weight', [3e38, 3e38]),
  ]);
  return path;
}

describe('align output folder', () => {
  it('creates missing nested parent folders of a single-file output', async () => {
    const output = join(dir, 'aligned', 'v1', 'nested', 'out.safetensors');
    const chunks = await collect(alignPackage({ baseWeights: base, package: pkg, strength: 0.5, output }));
    expect(chunks.at(-1)).toMatchObject({ isFinal: true, outputPath: output });
    expect(await readValues(output, L1)).toEqual([2, 0, 1, 2]);
    expect(await readdir(join(dir, 'aligned', 'v1', 'nested'))).toEqual(['out.safetensors']);
    expect(await partialsIn(dir)).toEqual([]);
  });

  it('creates missing parent folders of a folder output (folder base)', async () => {
    const folderBase = join(dir, 'base-folder');
    await mkdir(folderBase);
    const { base: single } = await writeGolden(folderBase);
    await rename(single, join(folderBase, 'model.safetensors'));
    const output = join(dir, 'runs', 'a', 'model');
    await collect(alignPackage({ baseWeights: folderBase, package: pkg, strength: 0.5, output }));
    expect(await readdir(output)).toEqual(['model.safetensors']);
    expect(await readValues(join(output, 'model.safetensors'), L1)).toEqual([2, 0, 1, 2]);
    expect(await partialsIn(dir)).toEqual([]);
  });

  it('through the processor: a nested output path given as a function of the package path', async () => {
    const output = (p: string) => join(dir, 'out', 'deep', `${p.split('/').at(-1)}.aligned`);
    await align({ baseWeights: base, strength: 1, output })([jsonPart({ path: pkg })]).gather();
    expect(await readdir(join(dir, 'out', 'deep'))).toEqual(['delta.safetensors.aligned']);
  });

  it('a failure after the first chunk leaves no partial, no output and none of the folders it created', async () => {
    const overflow = await writeOverflowPackage();
    await mkdir(join(dir, 'existing'));
    const output = join(dir, 'existing', 'made', 'deeper', 'out.safetensors');
    const layers: number[] = [];
    const error = await (async () => {
      for await (const chunk of alignPackage({ baseWeights: base, package: overflow, strength: 2, output })) {
        layers.push(chunk.layerIndex);
      }
    })().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NonFiniteError);
    expect(layers).toEqual([0]);
    expect(alignWorkerCount()).toBe(0);
    expect(await partialsIn(dir)).toEqual([]);
    // The folder that existed stays; the two made for this run are gone with the partial.
    expect(await readdir(join(dir, 'existing'))).toEqual([]);
  });

  it('stopping after the first chunk leaves no partial and removes the folders it created', async () => {
    const output = join(dir, 'stopped', 'out.safetensors');
    for await (const chunk of alignPackage({ baseWeights: base, package: pkg, strength: 1, output })) {
      expect(chunk.layerIndex).toBe(0);
      break;
    }
    expect(alignWorkerCount()).toBe(0);
    expect((await readdir(dir)).sort()).toEqual(['base.safetensors', 'delta.safetensors']);
  });
});
