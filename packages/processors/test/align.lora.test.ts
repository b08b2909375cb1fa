// A LoRA pair gives the same weights as the equivalent full delta (alpha / r) * B @ A, whatever the block size,
// blocks cutting rows in the middle included; lora_alpha defaults to r.
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { alignPackage } from '../src/align/index.ts';
import { writeSafetensors } from '../src/safetensors/index.ts';
import { collect, readBytes, tempFolder, tensorOf } from './fixtures-weights/models.ts';

let dir: string;
let remove: () => Promise<void>;
beforeEach(async () => {
  ({ dir, remove } = await tempFolder());
});
afterEach(() => remove());

const OUT = 13;
const IN = 11;
const R = 3;
const NAME = 'model.layers.0.self_attn.q_proj.weight';
// Small dyadic values: every product and sum below is exact, so the two forms must agree bit for bit.
const w = Array.from({ length: OUT * IN }, (_, i) => ((i * 7) % 17) / 4 - 2);
const a = Array.from({ length: R * IN }, (_, i) => ((i * 5) % 9) - 4);
const b = Array.from({ length: OUT * R }, (_, i) => (((i * 3) % 7) - 3) / 8);

function fullDelta(scale: number): number[] {
  const d: number[] = [];
  for (let i = 0; i < OUT; i++) {
    for (let j = 0; j < IN; j++) {
      let sum = 0;
      for (let k = 0; k < R; k++) sum += b[i * R + k] * a[k * IN + j];
      d.push(scale * sum);
    }
  }
  return d;
}

describe('align LoRA', () => {
  for (const dtype of ['F32', 'BF16', 'F16'] as const) {
    it(`LoRA equals the equivalent full delta (${dtype} base, several block sizes)`, async () => {
      const base = join(dir, 'base.safetensors');
      await writeSafetensors(base, [
        tensorOf(NAME, [OUT, IN], w, dtype),
        tensorOf('model.layers.1.x.weight', [2], [1, 2], dtype),
      ]);
      const lora = join(dir, 'lora.safetensors');
      await writeSafetensors(
        lora,
        [
          tensorOf(`base_model.model.${NAME.replace('.weight', '.lora_A.weight')}`, [R, IN], a),
          tensorOf(`base_model.model.${NAME.replace('.weight', '.lora_B.weight')}`, [OUT, R], b, 'BF16'),
        ],
        { lora_alpha: '6' },
      );
      const full = join(dir, 'full.safetensors');
      await writeSafetensors(full, [tensorOf(NAME, [OUT, IN], fullDelta(6 / R))]);
      const expected = join(dir, 'expected.safetensors');
      const fromFull = await collect(
        alignPackage({ baseWeights: base, package: full, strength: 0.75, output: expected }),
      );
      for (const blockBytes of [64, 72, 1000, 1 << 20]) {
        const output = join(dir, `lora-${blockBytes}.safetensors`);
        const fromLora = await collect(
          alignPackage({ baseWeights: base, package: lora, strength: 0.75, output, blockBytes }),
        );
        expect(await readBytes(output, NAME)).toEqual(await readBytes(expected, NAME));
        expect(fromLora.map((c) => c.deltaNorm)).toEqual(fromFull.map((c) => c.deltaNorm));
        expect(fromLora.at(-1)!.alignmentScore).toBeCloseTo(fromFull.at(-1)!.alignmentScore!, 12);
      }
    });
  }

  it('lora_alpha defaults to r (scale 1)', async () => {
    const base = join(dir, 'base.safetensors');
    await writeSafetensors(base, [tensorOf(NAME, [OUT, IN], w)]);
    const lora = join(dir, 'lora.safetensors');
    await writeSafetensors(lora, [
      tensorOf(NAME.replace('.weight', '.lora_A.weight'), [R, IN], a),
      tensorOf(NAME.replace('.weight', '.lora_B.weight'), [OUT, R], b),
    ]);
    const full = join(dir, 'full.safetensors');
    await writeSafetensors(full, [tensorOf(NAME, [OUT, IN], fullDelta(1))]);
    await collect(alignPackage({ baseWeights: base, package: lora, strength: 1, output: join(dir, 'a.safetensors') }));
    await collect(alignPackage({ baseWeights: base, package: full, strength: 1, output: join(dir, 'b.safetensors') }));
    expect(await readBytes(join(dir, 'a.safetensors'), NAME)).toEqual(
      await readBytes(join(dir, 'b.safetensors'), NAME),
    );
  });

  it('a pool of two workers gives the same bytes and the same sums as one', async () => {
    const base = join(dir, 'base.safetensors');
    const names = Array.from({ length: 6 }, (_, i) => `model.layers.${i}.q.weight`);
    await writeSafetensors(
      base,
      names.map((n, i) =>
        tensorOf(
          n,
          [OUT, IN],
          w.map((v) => v + i),
          'BF16',
        ),
      ),
    );
    const pkg = join(dir, 'mixed.safetensors');
    await writeSafetensors(
      pkg,
      names.flatMap((n, i) =>
        i % 2 === 0
          ? [tensorOf(n, [OUT, IN], fullDelta(0.5))]
          : [
              tensorOf(n.replace('.weight', '.lora_A.weight'), [R, IN], a),
              tensorOf(n.replace('.weight', '.lora_B.weight'), [OUT, R], b),
            ],
      ),
    );
    const one = join(dir, 'one.safetensors');
    const two = join(dir, 'two.safetensors');
    const c1 = await collect(
      alignPackage({ baseWeights: base, package: pkg, strength: 1.25, output: one, blockBytes: 64, workers: 1 }),
    );
    const c2 = await collect(
      alignPackage({ baseWeights: base, package: pkg, strength: 1.25, output: two, blockBytes: 64, workers: 2 }),
    );
    expect(c2).toEqual(c1.map((c) => (c.isFinal ? { ...c, outputPath: two } : c)));
    for (const n of names) expect(await readBytes(two, n)).toEqual(await readBytes(one, n));
  });
});
