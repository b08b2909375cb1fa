// The align processor reads no chunk ahead of its consumer: stopping after a chunk (break or abort)
// must never leave a finished output, even when the remaining layers are quick (untouched layers).
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { jsonPart } from '@sluice/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { align } from '../src/align/index.ts';
import { writeSafetensors } from '../src/safetensors/index.ts';
import { tempFolder, tensorOf } from './fixtures-weights/models.ts';

let dir: string;
let remove: () => Promise<void>;
let base: string;
let pkg: string;

beforeEach(async () => {
  ({ dir, remove } = await tempFolder());
  base = join(dir, 'base.safetensors');
  pkg = join(dir, 'delta.safetensors');
  await writeSafetensors(base, [
    tensorOf('model.layers.0.mlp.down_proj.weight', [2, 2], Float32Array.of(1, 0, 0, 1)),
    tensorOf('model.layers.1.mlp.down_proj.weight', [2, 2], Float32Array.of(2, 0, 0, 2)),
  ]);
  // Only layer 0 changes: layer 1 (the last) has nothing to compute, so it would finish at once.
  await writeSafetensors(pkg, [tensorOf('model.layers.0.mlp.down_proj.weight', [2, 2], Float32Array.of(0, 2, 2, 0))]);
});
afterEach(() => remove());

const outputs = async () => (await readdir(dir)).filter((n) => n.startsWith('out'));

describe('align: stopping after a chunk', () => {
  it('break after the first chunk leaves no output, every time', async () => {
    for (let i = 0; i < 20; i++) {
      const output = join(dir, `out-${i}.safetensors`);
      for await (const chunk of align({ baseWeights: base, strength: 1, output })([jsonPart({ path: pkg })])) {
        expect(JSON.parse(chunk.text!).layerIndex).toBe(0);
        break;
      }
      expect(existsSync(output)).toBe(false);
    }
    expect(await outputs()).toEqual([]);
  });

  it('an abort after the first chunk leaves no output, every time', async () => {
    for (let i = 0; i < 20; i++) {
      const output = join(dir, `out-${i}.safetensors`);
      const controller = new AbortController();
      const reason = new Error('user stop');
      const seen: number[] = [];
      const error = await (async () => {
        for await (const chunk of align({ baseWeights: base, strength: 1, output })([jsonPart({ path: pkg })], {
          signal: controller.signal,
        })) {
          seen.push(JSON.parse(chunk.text!).layerIndex);
          controller.abort(reason);
        }
      })().catch((e) => e);
      expect(seen).toEqual([0]);
      expect(error).toBe(reason);
      expect(existsSync(output)).toBe(false);
    }
    expect(await outputs()).toEqual([]);
  });

  it('read to the end, the output exists when the final chunk arrives', async () => {
    const output = join(dir, 'out-final.safetensors');
    for await (const chunk of align({ baseWeights: base, strength: 1, output })([jsonPart({ path: pkg })])) {
      const c = JSON.parse(chunk.text!);
      if (c.isFinal) expect(existsSync(output)).toBe(true);
      else expect(existsSync(output)).toBe(false);
    }
  });
});
