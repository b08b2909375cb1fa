// Model and delta-package fixtures for the weights tests, generated in a temp folder per test.

import { mkdtemp, open, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  decodeFloats,
  encodeFloats,
  encodeSafetensorsHeader,
  layoutTensors,
  openSafetensors,
  type TensorData,
  writeSafetensors,
} from '../../src/safetensors/index.ts';

/** A fresh temp folder and its removal. */
export async function tempFolder(prefix = 'sluice-weights-'): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** A tensor from nested number arrays (row-major), encoded as `dtype`. */
export function tensor(name: string, values: number[] | number[][], dtype = 'F32'): TensorData {
  const rows = values as (number | number[])[];
  const is2d = Array.isArray(rows[0]);
  const flat = is2d ? (values as number[][]).flat() : (values as number[]);
  const shape = is2d ? [rows.length, (rows[0] as number[]).length] : [flat.length];
  return { name, dtype, shape, data: encodeFloats(dtype, flat) };
}

/** A tensor from raw values and an explicit shape. */
export function tensorOf(name: string, shape: number[], values: ArrayLike<number>, dtype = 'F32'): TensorData {
  return { name, dtype, shape, data: encodeFloats(dtype, values) };
}

/** Writes the golden base and package (the worked example in the processors README) into `dir`. */
export async function writeGolden(dir: string): Promise<{ base: string; pkg: string }> {
  const base = join(dir, 'base.safetensors');
  const pkg = join(dir, 'delta.safetensors');
  await writeSafetensors(base, [
    tensor('model.layers.0.mlp.down_proj.weight', [
      [1, 0],
      [0, 1],
    ]),
    tensor('model.layers.1.mlp.down_proj.weight', [
      [2, 0],
      [0, 2],
    ]),
    tensor('model.norm.weight', [1, 1]),
  ]);
  await writeSafetensors(
    pkg,
    [
      tensor('model.layers.0.mlp.down_proj.weight', [
        [0, 2],
        [2, 0],
      ]),
      tensor('base_model.model.model.layers.1.mlp.down_proj.lora_A.weight', [[1, 0]]),
      tensor('base_model.model.model.layers.1.mlp.down_proj.lora_B.weight', [[0], [1]]),
    ],
    { lora_alpha: '2' },
  );
  return { base, pkg };
}

/** All values of a tensor of a safetensors file, as numbers. */
export async function readValues(path: string, name: string): Promise<number[]> {
  const file = await openSafetensors(path);
  try {
    const info = file.tensor(name)!;
    return Array.from(decodeFloats(info.dtype, await file.read(info)));
  } finally {
    await file.close();
  }
}

/** The raw bytes of a tensor of a safetensors file. */
export async function readBytes(path: string, name: string): Promise<Uint8Array> {
  const file = await openSafetensors(path);
  try {
    return await file.read(name);
  } finally {
    await file.close();
  }
}

/** Names in `dir` that end with `.partial` (leftovers of an interrupted write). */
export async function partialsIn(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).filter((name) => String(name).endsWith('.partial')).map(String);
}

/** Collects an async iterable. */
export async function collect<T>(source: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of source) out.push(item);
  return out;
}

/** A tensor of a streamed fixture: its bytes are produced by `fill` into a reused buffer. */
export interface StreamedTensor {
  readonly name: string;
  readonly dtype: string;
  readonly shape: readonly number[];
}

/**
 * Writes a large safetensors file without holding it in memory: `fill(index, bytes)` fills each tensor's bytes
 * into a buffer reused across tensors of the same size.
 */
export async function writeStreamed(
  path: string,
  tensors: readonly StreamedTensor[],
  fill: (index: number, bytes: Uint8Array) => void,
  metadata: Record<string, string> = {},
): Promise<void> {
  const layout = layoutTensors(tensors);
  const header = encodeSafetensorsHeader(layout, metadata);
  const buffers = new Map<number, Uint8Array>();
  const handle = await open(path, 'w');
  try {
    await handle.write(header, 0, header.length, 0);
    for (const [index, info] of layout.entries()) {
      const size = info.dataOffsets[1] - info.dataOffsets[0];
      let bytes = buffers.get(size);
      if (!bytes) buffers.set(size, (bytes = new Uint8Array(size)));
      fill(index, bytes);
      await handle.write(bytes, 0, size, header.length + info.dataOffsets[0]);
    }
  } finally {
    await handle.close();
  }
}
