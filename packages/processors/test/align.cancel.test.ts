// Stopping align early — break after the first chunk, an aborted signal, an error mid-way — leaves no output,
// no partial file and no worker; an abort rejects with the signal's reason.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { alignPackage, alignWorkerCount } from '../src/align/index.ts';
import { NonFiniteError } from '../src/index.ts';
import { writeSafetensors } from '../src/safetensors/index.ts';
import { tempFolder, tensorOf } from './fixtures-weights/models.ts';

let dir: string;
let remove: () => Promise<void>;
let base: string;
let pkg: string;
let output: string;
const LAYERS = 4;
const SIZE = 64 * 64;

beforeEach(async () => {
  ({ dir, remove } = await tempFolder());
  base = join(dir, 'base.safetensors');
  pkg = join(dir, 'delta.safetensors');
  output = join(dir, 'out.safetensors');
  const names = Array.from({ length: LAYERS }, (_, i) => `model.layers.${i}.mlp.weight`);
  await writeSafetensors(
    base,
    names.map((n) => tensorOf(n, [64, 64], new Float32Array(SIZE).fill(1))),
  );
  // Layer 2's delta overflows binary32 on its last element.
  const huge = new Float32Array(SIZE).fill(0.5);
  huge[SIZE - 1] = 3e38;
  await writeSafetensors(
    pkg,
    names.map((n, i) => tensorOf(n, [64, 64], i === 2 ? huge : new Float32Array(SIZE).fill(0.5))),
  );
});
afterEach(() => remove());

const leftovers = async () => (await readdir(dir)).filter((n) => n !== 'base.safetensors' && n !== 'delta.safetensors');

describe('align stopping', () => {
  it('break after the first chunk: no output, no partial, worker terminated', async () => {
    let seen = 0;
    for await (const chunk of alignPackage({
      baseWeights: base,
      package: pkg,
      strength: 1,
      output,
      blockBytes: 4096,
    })) {
      expect(chunk.layerIndex).toBe(0);
      expect(alignWorkerCount()).toBeGreaterThan(0);
      seen++;
      break;
    }
    expect(seen).toBe(1);
    expect(alignWorkerCount()).toBe(0);
    expect(await leftovers()).toEqual([]);
  });

  it('abort after the first chunk rejects with the reason and cleans up', async () => {
    const controller = new AbortController();
    const reason = new Error('user cancelled');
    const chunks: number[] = [];
    const run = (async () => {
      for await (const chunk of alignPackage(
        { baseWeights: base, package: pkg, strength: 1, output, blockBytes: 4096 },
        controller.signal,
      )) {
        chunks.push(chunk.layerIndex);
        if (chunks.length === 1) controller.abort(reason);
      }
    })();
    await expect(run).rejects.toBe(reason);
    expect(chunks).toEqual([0]);
    expect(alignWorkerCount()).toBe(0);
    expect(await leftovers()).toEqual([]);
  });

  it('an already aborted signal does nothing', async () => {
    const controller = new AbortController();
    controller.abort(new Error('early'));
    await expect(
      alignPackage({ baseWeights: base, package: pkg, strength: 1, output }, controller.signal).next(),
    ).rejects.toThrow('early');
    expect(await leftovers()).toEqual([]);
  });

  it('an error in a later layer (E_NONFINITE) deletes the partial after earlier chunks were yielded', async () => {
    const chunks: number[] = [];
    const run = (async () => {
      for await (const chunk of alignPackage({
        baseWeights: base,
        package: pkg,
        strength: 2,
        output,
        blockBytes: 4096,
      })) {
        chunks.push(chunk.layerIndex);
      }
    })();
    const error = await run.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NonFiniteError);
    expect((error as NonFiniteError).message).toContain('model.layers.2.mlp.weight[4095]');
    expect(chunks).toEqual([0, 1]);
    expect(alignWorkerCount()).toBe(0);
    expect(await leftovers()).toEqual([]);
  });
});
