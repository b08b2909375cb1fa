// The output does not depend on the block size: large blocks (cut at page boundaries of the output and written
// straight to the disk where the file system takes O_DIRECT, through the page cache otherwise) give the same
// bytes as tiny ones (always through the page cache), on a model that mixes dtypes, a tensor that starts at an
// odd offset (its elements are not aligned in the file), untouched tensors inside and outside modified layers, a
// LoRA pair and a mixed-dtype delta. Only the order of the f64 sums depends on the block size.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AlignmentChunk, alignPackage } from '../src/align/index.ts';
import { writeSafetensors } from '../src/safetensors/index.ts';
import { collect, tempFolder, tensorOf } from './fixtures-weights/models.ts';

let dir: string;
let remove: () => Promise<void>;
let base: string;
let pkg: string;

/** Deterministic pseudo-random values in [-scale, scale). */
function values(n: number, seed: number, scale: number): Float64Array {
  const out = new Float64Array(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = (x / 2 ** 32 - 0.5) * 2 * scale;
  }
  return out;
}

const bytesOf = (name: string, shape: number[], n: number, seed: number) => ({
  name,
  dtype: 'U8',
  shape,
  data: Uint8Array.from(values(n, seed, 128), (v) => Math.floor(v) & 0xff),
});

beforeAll(async () => {
  ({ dir, remove } = await tempFolder('sluice-align-blocks-'));
  base = join(dir, 'base.safetensors');
  pkg = join(dir, 'delta.safetensors');
  await writeSafetensors(base, [
    bytesOf('model.embed.weight', [12345], 12345, 1), // odd length: the next tensor starts at an odd offset
    tensorOf('model.layers.0.attn.weight', [300, 1000], values(300_000, 2, 1)), // F32, misaligned in the file
    bytesOf('model.layers.0.pad', [3], 3, 3), // back to a multiple of 4
    tensorOf('model.layers.1.mlp.weight', [700, 1024], values(716_800, 4, 1), 'BF16'),
    tensorOf('model.layers.1.untouched.weight', [1000, 300], values(300_000, 5, 1)),
    tensorOf('model.layers.2.q_proj.weight', [512, 600], values(307_200, 6, 1)),
    tensorOf('model.norm.weight', [4096], values(4096, 7, 1), 'F16'),
  ]);
  await writeSafetensors(
    pkg,
    [
      tensorOf('model.layers.0.attn.weight', [300, 1000], values(300_000, 12, 0.01)),
      tensorOf('model.layers.1.mlp.weight', [700, 1024], values(716_800, 14, 0.01), 'BF16'),
      tensorOf('base_model.model.model.layers.2.q_proj.lora_A.weight', [4, 600], values(2400, 16, 0.1)),
      tensorOf('base_model.model.model.layers.2.q_proj.lora_B.weight', [512, 4], values(2048, 17, 0.1)),
      tensorOf('model.norm.weight', [4096], values(4096, 18, 0.01)), // F32 delta for F16 weights
    ],
    { lora_alpha: '8' },
  );
}, 60_000);
afterAll(() => remove());

async function alignWith(blockBytes: number): Promise<{ bytes: Buffer; chunks: AlignmentChunk[] }> {
  const output = join(dir, `out-${blockBytes}.safetensors`);
  const chunks = await collect(alignPackage({ baseWeights: base, package: pkg, strength: 1.5, output, blockBytes }));
  return { bytes: await readFile(output), chunks };
}

describe('align block size', () => {
  it('large blocks (page-cut, direct writes) give the same bytes as tiny blocks', async () => {
    const tiny = await alignWith(4096);
    expect(tiny.chunks.at(-1)!.alignmentScore).toBeLessThan(1);
    for (const blockBytes of [64 * 1024, 300_000, 1 << 20, 8 << 20]) {
      const large = await alignWith(blockBytes);
      expect(large.bytes.equals(tiny.bytes), `blockBytes ${blockBytes}`).toBe(true);
      expect(large.chunks.map((c) => c.layerIndex)).toEqual(tiny.chunks.map((c) => c.layerIndex));
      for (const [i, chunk] of large.chunks.entries()) {
        expect(chunk.deltaNorm).toBeCloseTo(tiny.chunks[i].deltaNorm, 9);
        expect(chunk.layerScore!).toBeCloseTo(tiny.chunks[i].layerScore!, 12);
      }
    }
  });

  it('untouched tensors are byte-identical to the base, wherever blocks and pages fall', async () => {
    const { bytes } = await alignWith(1 << 20);
    const original = await readFile(base);
    const headerOf = (b: Buffer) => 8 + Number(b.readBigUInt64LE(0));
    const dataOut = bytes.subarray(headerOf(bytes));
    const dataIn = original.subarray(headerOf(original));
    expect(dataOut.length).toBe(dataIn.length);
    // model.embed.weight, model.layers.0.pad and model.layers.1.untouched.weight, by their offsets in the base.
    const header = JSON.parse(original.subarray(8, headerOf(original)).toString()) as Record<
      string,
      { data_offsets: [number, number] }
    >;
    for (const name of ['model.embed.weight', 'model.layers.0.pad', 'model.layers.1.untouched.weight']) {
      const [begin, end] = header[name].data_offsets;
      expect(dataOut.subarray(begin, end).equals(dataIn.subarray(begin, end)), name).toBe(true);
    }
    // And a modified one did change.
    const [begin, end] = header['model.layers.1.mlp.weight'].data_offsets;
    expect(dataOut.subarray(begin, end).equals(dataIn.subarray(begin, end))).toBe(false);
  });
});
