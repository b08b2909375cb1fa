// A sharded base (folder with model.safetensors.index.json) gives a folder with the same shard names and a
// rewritten index; a folder with a single model.safetensors gives a folder too. Tensors are modified in
// whichever shard holds them, untouched ones stay byte-identical.
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { alignPackage } from '../src/align/index.ts';
import { FormatError } from '../src/index.ts';
import { readSafetensorsHeader, writeSafetensors } from '../src/safetensors/index.ts';
import {
  collect,
  partialsIn,
  readBytes,
  readValues,
  tempFolder,
  tensor,
  writeGolden,
} from './fixtures-weights/models.ts';

let dir: string;
let remove: () => Promise<void>;
beforeEach(async () => {
  ({ dir, remove } = await tempFolder());
});
afterEach(() => remove());

const L0 = 'model.layers.0.mlp.down_proj.weight';
const L1 = 'model.layers.1.mlp.down_proj.weight';
const NORM = 'model.norm.weight';
const SHARD1 = 'model-00001-of-00002.safetensors';
const SHARD2 = 'model-00002-of-00002.safetensors';

async function writeShardedGolden(folder: string) {
  await mkdir(folder);
  await writeSafetensors(
    join(folder, SHARD1),
    [
      tensor('model.embed_tokens.weight', [
        [3, 4],
        [5, 6],
      ]),
      tensor(L0, [
        [1, 0],
        [0, 1],
      ]),
    ],
    { format: 'pt' },
  );
  await writeSafetensors(join(folder, SHARD2), [
    tensor(L1, [
      [2, 0],
      [0, 2],
    ]),
    tensor(NORM, [1, 1]),
  ]);
  const index = {
    metadata: { total_size: 40 },
    weight_map: { 'model.embed_tokens.weight': SHARD1, [L0]: SHARD1, [L1]: SHARD2, [NORM]: SHARD2 },
  };
  await writeFile(join(folder, 'model.safetensors.index.json'), JSON.stringify(index));
}

describe('align on a sharded base', () => {
  it('writes a folder with the same shards and a rewritten index; results equal the single-file golden', async () => {
    const { pkg } = await writeGolden(dir);
    const base = join(dir, 'base');
    await writeShardedGolden(base);
    const output = join(dir, 'aligned');
    const chunks = await collect(alignPackage({ baseWeights: base, package: pkg, strength: 0.5, output }));
    expect(chunks.map((c) => [c.layerIndex, c.deltaNorm, c.progressPct])).toEqual([
      [0, Math.SQRT2, 50],
      [1, 1, 100],
    ]);
    expect(chunks[1].outputPath).toBe(output);
    expect(chunks[1].alignmentScore).toBe(10 / Math.sqrt(130));
    expect((await readdir(output)).sort()).toEqual([SHARD1, SHARD2, 'model.safetensors.index.json']);
    expect(await readValues(join(output, SHARD1), L0)).toEqual([1, 1, 1, 1]);
    expect(await readValues(join(output, SHARD2), L1)).toEqual([2, 0, 1, 2]);
    for (const [shard, name] of [
      [SHARD1, 'model.embed_tokens.weight'],
      [SHARD2, NORM],
    ]) {
      expect(await readBytes(join(output, shard), name)).toEqual(await readBytes(join(base, shard), name));
    }
    const index = JSON.parse(await readFile(join(output, 'model.safetensors.index.json'), 'utf8'));
    expect(index.weight_map).toEqual(
      JSON.parse(await readFile(join(base, 'model.safetensors.index.json'), 'utf8')).weight_map,
    );
    expect(index.metadata).toMatchObject({ total_size: 40, 'alignment.strength': '0.5' });
    expect((await readSafetensorsHeader(join(output, SHARD1))).metadata).toMatchObject({
      format: 'pt',
      'alignment.strength': '0.5',
    });
    expect(await partialsIn(dir)).toEqual([]);
  });

  it('replaces an existing output folder only once the new one is complete', async () => {
    const { pkg } = await writeGolden(dir);
    const base = join(dir, 'base');
    await writeShardedGolden(base);
    const output = join(dir, 'aligned');
    await collect(alignPackage({ baseWeights: base, package: pkg, strength: 0.5, output }));
    await collect(alignPackage({ baseWeights: base, package: pkg, strength: 1, output }));
    expect(await readValues(join(output, SHARD2), L1)).toEqual([2, 0, 2, 2]);
    expect((await readdir(dir)).sort()).toEqual(['aligned', 'base', 'base.safetensors', 'delta.safetensors']);
  });

  it('a folder holding a single model.safetensors gives a folder holding the aligned model.safetensors', async () => {
    const { base: single, pkg } = await writeGolden(dir);
    const base = join(dir, 'single');
    await mkdir(base);
    await writeFile(join(base, 'model.safetensors'), await readFile(single));
    const output = join(dir, 'aligned-single');
    await collect(alignPackage({ baseWeights: base, package: pkg, strength: 0.5, output }));
    expect(await readdir(output)).toEqual(['model.safetensors']);
    expect(await readValues(join(output, 'model.safetensors'), L0)).toEqual([1, 1, 1, 1]);
  });

  it('refuses an index that disagrees with its shards, before writing anything', async () => {
    const { pkg } = await writeGolden(dir);
    const base = join(dir, 'base');
    await writeShardedGolden(base);
    const indexPath = join(base, 'model.safetensors.index.json');
    const index = JSON.parse(await readFile(indexPath, 'utf8'));
    index.weight_map[NORM] = SHARD1;
    await writeFile(indexPath, JSON.stringify(index));
    const output = join(dir, 'aligned');
    await expect(
      collect(alignPackage({ baseWeights: base, package: pkg, strength: 0.5, output })),
    ).rejects.toBeInstanceOf(FormatError);
    index.weight_map[NORM] = '../escape.safetensors';
    await writeFile(indexPath, JSON.stringify(index));
    await expect(
      collect(alignPackage({ baseWeights: base, package: pkg, strength: 0.5, output })),
    ).rejects.toMatchObject({
      code: 'E_FORMAT',
      reason: 'invalid-index',
    });
    expect(await partialsIn(dir)).toEqual([]);
    expect(await readdir(dir)).not.toContain('aligned');
  });
});
