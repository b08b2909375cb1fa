import { readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { openModel, readSafetensorsHeader } from '@sluice/processors';
import { describe, expect, it } from 'vitest';
import { type AlignmentChunk, NotFoundError, WeightsError } from '../src/index.ts';
import { clientOf, filesIn, registry, tempDir } from './helpers.ts';

async function collect(stream: AsyncIterable<AlignmentChunk>): Promise<AlignmentChunk[]> {
  const chunks: AlignmentChunk[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

describe('wmatrix.streamAlign', () => {
  it('buys, downloads into the cache folder and streams one chunk per layer', async () => {
    const server = await registry();
    const cacheDir = await tempDir();
    const client = await clientOf(server, { cacheDir });
    const outDir = await tempDir();
    const output = join(outDir, 'new-folder', 'aligned.safetensors');
    const chunks = await collect(
      client.wmatrix.streamAlign({
        baseWeights: server.baseModelPath,
        vectorPackageId: 'vec-formal',
        strength: 0.5,
        output,
      }),
    );
    expect(chunks.map((c) => c.layerIndex)).toEqual([0, 1, 2, 3]);
    expect(chunks.map((c) => c.progressPct)).toEqual([25, 50, 75, 100]);
    expect(chunks.map((c) => c.isFinal)).toEqual([false, false, false, true]);
    expect(chunks.every((c) => c.totalLayers === 4 && c.deltaNorm > 0)).toBe(true);
    const last = chunks.at(-1)!;
    expect(last.outputPath).toBe(output);
    expect(last.alignmentScore).toBeGreaterThan(0.9);
    expect(last.alignmentScore).toBeLessThan(1);
    const [base, aligned] = await Promise.all([
      readSafetensorsHeader(server.baseModelPath),
      readSafetensorsHeader(output),
    ]);
    expect(aligned.tensors.map((t) => [t.name, t.dtype, t.shape])).toEqual(
      base.tensors.map((t) => [t.name, t.dtype, t.shape]),
    );
    expect(aligned.metadata['alignment.strength']).toBe('0.5');
    expect(await filesIn(cacheDir)).toEqual(['vec-formal.safetensors']);
    expect(server.purchases.map((p) => p.packageId)).toEqual(['vec-formal']);
  });

  it('a LoRA package aligns into the BF16 tensors; untouched layers have deltaNorm 0', async () => {
    const server = await registry();
    const client = await clientOf(server);
    const output = join(await tempDir(), 'cheerful.safetensors');
    const chunks = await collect(
      client.wmatrix.streamAlign({
        baseWeights: server.baseModelPath,
        vectorPackageId: 'vec-cheerful',
        strength: 1,
        output,
      }),
    );
    expect(chunks.map((c) => c.deltaNorm > 0)).toEqual([false, true, true, false]);
    await using model = await openModel(output);
    expect(model.tensor('model.layers.1.self_attn.q_proj.weight')?.info.dtype).toBe('BF16');
  });

  it('by default writes beside the base model', async () => {
    const server = await registry();
    const client = await clientOf(server);
    const chunks = await collect(
      client.wmatrix.streamAlign({ baseWeights: server.baseModelPath, vectorPackageId: 'vec-cautious', strength: 1 }),
    );
    expect(chunks.at(-1)?.outputPath).toBe(
      join(dirname(server.baseModelPath), `${server.baseModelName}.aligned-vec-cautious.safetensors`),
    );
  });

  it('a package already in the cache is not bought or downloaded again', async () => {
    const server = await registry();
    const client = await clientOf(server);
    const dir = await tempDir();
    const run = (name: string) =>
      collect(
        client.wmatrix.streamAlign({
          baseWeights: server.baseModelPath,
          vectorPackageId: 'vec-code',
          strength: 1,
          output: join(dir, name),
        }),
      );
    await run('a.safetensors');
    const second = await run('b.safetensors');
    expect(second.at(-1)?.isFinal).toBe(true);
    expect(server.purchases).toHaveLength(1);
    expect(server.requests.filter((r) => r.route === 'download')).toHaveLength(1);
  });

  it('cancel() after the first chunk ends the iteration and leaves no output', async () => {
    const server = await registry();
    const client = await clientOf(server);
    const outDir = await tempDir();
    const output = join(outDir, 'cancelled.safetensors');
    const stream = client.wmatrix.streamAlign({
      baseWeights: server.baseModelPath,
      vectorPackageId: 'vec-concise',
      strength: 1,
      output,
    });
    const seen: AlignmentChunk[] = [];
    for await (const chunk of stream) {
      seen.push(chunk);
      stream.cancel();
    }
    expect(seen).toHaveLength(1);
    expect(stream.cancelled).toBe(true);
    expect(await filesIn(outDir)).toEqual([]);
  });

  it('cancel() before reading runs nothing', async () => {
    const server = await registry();
    const client = await clientOf(server);
    const outDir = await tempDir();
    const stream = client.wmatrix.streamAlign({
      baseWeights: server.baseModelPath,
      vectorPackageId: 'vec-concise',
      strength: 1,
      output: join(outDir, 'never.safetensors'),
    });
    stream.cancel();
    expect(await collect(stream)).toEqual([]);
    expect(server.requests).toHaveLength(0);
    expect(await filesIn(outDir)).toEqual([]);
  });

  it('cancel() while the download is in flight stops it and leaves nothing behind', async () => {
    const server = await registry({ holdDownloads: true });
    const cacheDir = await tempDir();
    const client = await clientOf(server, { cacheDir });
    const outDir = await tempDir();
    const stream = client.wmatrix.streamAlign({
      baseWeights: server.baseModelPath,
      vectorPackageId: 'vec-concise',
      strength: 1,
      output: join(outDir, 'x.safetensors'),
    });
    const done = collect(stream);
    await server.waitForActiveDownloads(1);
    stream.cancel();
    expect(await done).toEqual([]);
    expect(await filesIn(outDir)).toEqual([]);
    expect((await readdir(cacheDir)).filter((f) => f.endsWith('.partial'))).toEqual([]);
  });

  it('breaking out of the loop leaves no output either', async () => {
    const server = await registry();
    const client = await clientOf(server);
    const outDir = await tempDir();
    for await (const _ of client.wmatrix.streamAlign({
      baseWeights: server.baseModelPath,
      vectorPackageId: 'vec-poetic',
      strength: 1,
      output: join(outDir, 'y.safetensors'),
    })) {
      break;
    }
    expect(await filesIn(outDir)).toEqual([]);
  });

  it("the caller's signal rejects the iteration with its reason and leaves no output", async () => {
    const server = await registry();
    const client = await clientOf(server);
    const outDir = await tempDir();
    const controller = new AbortController();
    const reason = new Error('abort alignment');
    const stream = client.wmatrix.streamAlign({
      baseWeights: server.baseModelPath,
      vectorPackageId: 'vec-concise',
      strength: 1,
      output: join(outDir, 'z.safetensors'),
      signal: controller.signal,
    });
    const iterator = stream[Symbol.asyncIterator]();
    await iterator.next();
    controller.abort(reason);
    await expect(iterator.next()).rejects.toBe(reason);
    expect(await filesIn(outDir)).toEqual([]);
  });

  it('a package that does not fit the base fails with the align error code', async () => {
    const server = await registry();
    const client = await clientOf(server);
    const outDir = await tempDir();
    const error = await collect(
      client.wmatrix.streamAlign({
        baseWeights: server.baseModelPath,
        vectorPackageId: 'vec-llama-style',
        strength: 1,
        output: join(outDir, 'bad.safetensors'),
      }),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WeightsError);
    expect((error as WeightsError).code).toBe('E_SHAPE');
    expect(await filesIn(outDir)).toEqual([]);
  });

  it('an unknown package fails with NotFoundError; a bad strength throws at once', async () => {
    const server = await registry();
    const client = await clientOf(server);
    const outDir = await tempDir();
    const error = await collect(
      client.wmatrix.streamAlign({
        baseWeights: server.baseModelPath,
        vectorPackageId: 'nope',
        strength: 1,
        output: join(outDir, 'n.safetensors'),
      }),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotFoundError);
    expect((error as NotFoundError).message).toMatch(/nope.*404/);
    expect(() =>
      client.wmatrix.streamAlign({ baseWeights: server.baseModelPath, vectorPackageId: 'vec-code', strength: 3 }),
    ).toThrow(RangeError);
  });
});
