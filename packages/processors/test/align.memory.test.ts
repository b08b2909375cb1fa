// Aligning a 256 MiB model with 1 MiB blocks: peak memory rises by less than 64 MiB (the model is never
// resident), and the event loop stays responsive (a 10 ms interval timer is never more than 50 ms late)
// because the arithmetic runs in the worker.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alignPackage } from '../src/align/index.ts';
import { tempFolder, writeStreamed } from './fixtures-weights/models.ts';

const MiB = 1024 * 1024;
const LAYERS = 64;
const ROWS = 1024;
const COLS = 1024; // 4 MiB of F32 per layer, 256 MiB in all
const RANK = 8;

let dir: string;
let remove: () => Promise<void>;
let base: string;
let pkg: string;
beforeAll(async () => {
  ({ dir, remove } = await tempFolder('sluice-align-memory-'));
  base = join(dir, 'base.safetensors');
  pkg = join(dir, 'delta.safetensors');
  const name = (layer: number) => `model.layers.${layer}.mlp.down_proj`;
  await writeStreamed(
    base,
    Array.from({ length: LAYERS }, (_, layer) => ({
      name: `${name(layer)}.weight`,
      dtype: 'F32',
      shape: [ROWS, COLS],
    })),
    (layer, bytes) => {
      const values = new Float32Array(bytes.buffer);
      for (let i = 0; i < values.length; i++) values[i] = ((i * 31 + layer) % 997) / 997 - 0.5;
    },
  );
  // Half the layers get a full delta (128 MiB read alongside the base), half a rank-8 LoRA pair.
  const tensors = [];
  for (let layer = 0; layer < LAYERS; layer++) {
    if (layer % 2 === 0) tensors.push({ name: `${name(layer)}.weight`, dtype: 'F32', shape: [ROWS, COLS] });
    else {
      tensors.push({ name: `${name(layer)}.lora_A.weight`, dtype: 'F32', shape: [RANK, COLS] });
      tensors.push({ name: `${name(layer)}.lora_B.weight`, dtype: 'F32', shape: [ROWS, RANK] });
    }
  }
  await writeStreamed(pkg, tensors, (index, bytes) => {
    const values = new Float32Array(bytes.buffer);
    for (let i = 0; i < values.length; i++) values[i] = (((i + index) % 13) - 6) / 1024;
  });
}, 120_000);
afterAll(() => remove());

describe('align memory and responsiveness', () => {
  it('256 MiB model, 1 MiB blocks: peak RSS rises < 64 MiB and a 10 ms timer is never > 50 ms late', async () => {
    const rssBefore = process.memoryUsage.rss();
    let peak = rssBefore;
    let worstLateness = 0;
    let ticks = 0;
    let last = performance.now();
    const timer = setInterval(() => {
      const now = performance.now();
      worstLateness = Math.max(worstLateness, now - last - 10);
      last = now;
      ticks++;
      peak = Math.max(peak, process.memoryUsage.rss());
    }, 10);
    let chunks = 0;
    try {
      for await (const chunk of alignPackage({
        baseWeights: base,
        package: pkg,
        strength: 1,
        output: join(dir, 'out.safetensors'),
        blockBytes: MiB,
      })) {
        chunks++;
        peak = Math.max(peak, process.memoryUsage.rss());
        if (chunk.isFinal) expect(chunk.alignmentScore).toBeLessThan(1);
      }
    } finally {
      clearInterval(timer);
    }
    expect(chunks).toBe(LAYERS);
    expect(ticks).toBeGreaterThan(10);
    expect((peak - rssBefore) / MiB).toBeLessThan(64);
    expect(worstLateness).toBeLessThan(50);
    console.log(
      `align 256 MiB: peak RSS +${((peak - rssBefore) / MiB).toFixed(1)} MiB, worst timer lateness ${worstLateness.toFixed(1)} ms over ${ticks} ticks`,
    );
  }, 120_000);
});
