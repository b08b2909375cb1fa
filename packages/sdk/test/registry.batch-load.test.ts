import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ClosedError, type LoadResult } from '../src/index.ts';
import { clientOf, filesIn, registry, tempDir } from './helpers.ts';

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

describe('vectors.batchLoad', () => {
  it('buys and downloads every package, results in input order, files verified', async () => {
    const server = await registry();
    const client = await clientOf(server);
    const outputDir = await tempDir();
    const ids = ['vec-poetic', 'vec-concise', 'mem-sluice-docs'];
    const progress: { completed: number; total: number }[] = [];
    const loaded: string[] = [];
    const results = await client.vectors.batchLoad({
      packageIds: ids,
      outputDir,
      onProgress: (p) => progress.push(p),
      onLoaded: (r) => loaded.push(r.packageId),
    });
    expect(results.map((r) => r.packageId)).toEqual(ids);
    for (const result of results) {
      const pkg = server.packages.find((p) => p.id === result.packageId)!;
      expect(result).toMatchObject({
        success: true,
        filename: pkg.filename,
        path: join(outputDir, pkg.filename),
        sizeBytes: pkg.sizeBytes,
        sha256: pkg.sha256,
      });
      expect(result.sizeMb).toBeCloseTo(pkg.sizeBytes / 1048576, 12);
      expect(sha256(await readFile(result.path!))).toBe(pkg.sha256);
    }
    expect(loaded.sort()).toEqual([...ids].sort());
    expect(progress).toEqual([
      { completed: 1, total: 3 },
      { completed: 2, total: 3 },
      { completed: 3, total: 3 },
    ]);
    expect(server.purchases.map((p) => p.packageId).sort()).toEqual([...ids].sort());
    expect(await filesIn(outputDir)).toEqual([
      'mem-sluice-docs.jsonl',
      'vec-concise.safetensors',
      'vec-poetic.safetensors',
    ]);
  });

  it('onLoaded fires in completion order while results keep input order', async () => {
    const server = await registry({ holdDownloads: ['vec-concise'] });
    const client = await clientOf(server);
    const outputDir = await tempDir();
    const loaded: LoadResult[] = [];
    let othersLoaded: () => void = () => {};
    const bothOthers = new Promise<void>((resolve) => {
      othersLoaded = resolve;
    });
    const pending = client.vectors.batchLoad({
      packageIds: ['vec-concise', 'vec-pirate', 'vec-code'],
      outputDir,
      onLoaded: (r) => {
        loaded.push(r);
        if (loaded.length === 2) othersLoaded();
      },
    });
    await bothOthers;
    // The first package is still held by the server, yet the two others were reported.
    expect(loaded.map((r) => r.packageId).sort()).toEqual(['vec-code', 'vec-pirate']);
    server.releaseDownloads();
    const results = await pending;
    expect(loaded.at(-1)?.packageId).toBe('vec-concise');
    expect(results.map((r) => r.packageId)).toEqual(['vec-concise', 'vec-pirate', 'vec-code']);
    expect(results.every((r) => r.success)).toBe(true);
  });

  it('a package already on disk and a package that cannot be bought are reported at once, not after a slower earlier one', async () => {
    const outputDir = await tempDir();
    const first = await clientOf(await registry());
    await first.vectors.batchLoad({ packageIds: ['vec-pirate'], outputDir });
    const held = await registry({ holdDownloads: ['vec-concise'] });
    const heldClient = await clientOf(held);
    const loaded: LoadResult[] = [];
    let othersLoaded: () => void = () => {};
    const bothOthers = new Promise<void>((resolve) => {
      othersLoaded = resolve;
    });
    const pending = heldClient.vectors.batchLoad({
      packageIds: ['vec-concise', 'no-such-package', 'vec-pirate'],
      outputDir,
      onLoaded: (r) => {
        loaded.push(r);
        if (loaded.length === 2) othersLoaded();
      },
    });
    await bothOthers;
    // vec-concise is still held by the server.
    expect(loaded.map((r) => [r.packageId, r.success, r.cached ?? false]).sort()).toEqual([
      ['no-such-package', false, false],
      ['vec-pirate', true, true],
    ]);
    held.releaseDownloads();
    const results = await pending;
    expect(results.map((r) => [r.packageId, r.success])).toEqual([
      ['vec-concise', true],
      ['no-such-package', false],
      ['vec-pirate', true],
    ]);
    expect(loaded).toHaveLength(3);
  });

  it('never rejects for failed packages: unknown id, corrupt file, missing file', async () => {
    const server = await registry({
      packages: (defaults) =>
        defaults.map((p) =>
          p.id === 'vec-code'
            ? { ...p, fault: 'corrupt' as const }
            : p.id === 'vec-cheerful'
              ? { ...p, fault: 'not-found' as const }
              : p,
        ),
    });
    const client = await clientOf(server);
    const outputDir = await tempDir();
    const loaded: LoadResult[] = [];
    const results = await client.vectors.batchLoad({
      packageIds: ['vec-concise', 'no-such-package', 'vec-code', 'vec-cheerful', 'vec-pirate'],
      outputDir,
      onLoaded: (r) => loaded.push(r),
    });
    expect(results.map((r) => [r.packageId, r.success])).toEqual([
      ['vec-concise', true],
      ['no-such-package', false],
      ['vec-code', false],
      ['vec-cheerful', false],
      ['vec-pirate', true],
    ]);
    expect(results[1].error).toMatch(/404.*package_not_found/);
    expect(results[2].error).toMatch(/sha256 mismatch/);
    expect(results[3].error).toMatch(/HTTP 404/);
    expect(results[1].path).toBeUndefined();
    expect(loaded).toHaveLength(5);
    expect(await filesIn(outputDir)).toEqual(['vec-concise.safetensors', 'vec-pirate.safetensors']);
  });

  it('the registry never sees more than maxConcurrency downloads at once', async () => {
    const server = await registry({ holdDownloads: true });
    const client = await clientOf(server);
    const outputDir = await tempDir();
    const ids = ['vec-concise', 'vec-pirate', 'vec-formal', 'vec-cheerful', 'vec-code'];
    const pending = client.vectors.batchLoad({ packageIds: ids, outputDir, maxConcurrency: 2 });
    await server.waitForActiveDownloads(2);
    expect(server.activeDownloads).toBe(2);
    server.releaseDownloads();
    const results = await pending;
    expect(results.every((r) => r.success)).toBe(true);
    expect(server.maxActiveDownloads).toBe(2);
    expect(server.requests.filter((r) => r.route === 'download')).toHaveLength(5);
  });

  it('aborting rejects with the reason, stops the downloads and leaves no partial file', async () => {
    const server = await registry({ holdDownloads: true });
    const client = await clientOf(server);
    const outputDir = await tempDir();
    const controller = new AbortController();
    const reason = new Error('stop the batch');
    const pending = client.vectors.batchLoad({
      packageIds: ['vec-concise', 'vec-pirate', 'vec-formal'],
      outputDir,
      maxConcurrency: 2,
      signal: controller.signal,
    });
    await server.waitForActiveDownloads(2);
    controller.abort(reason);
    await expect(pending).rejects.toBe(reason);
    expect(await filesIn(outputDir)).toEqual([]);
    await expect.poll(() => server.activeDownloads).toBe(0);
  });

  it('client.close() stops a batch in flight with ClosedError', async () => {
    const server = await registry({ holdDownloads: true });
    const client = await clientOf(server);
    const outputDir = await tempDir();
    const pending = client.vectors.batchLoad({ packageIds: ['vec-concise'], outputDir });
    await server.waitForActiveDownloads(1);
    await client.close();
    await expect(pending).rejects.toBeInstanceOf(ClosedError);
    expect(await filesIn(outputDir)).toEqual([]);
  });

  it('a package already in outputDir, verified, is neither bought nor downloaded again', async () => {
    const server = await registry();
    const client = await clientOf(server);
    const outputDir = await tempDir();
    await client.vectors.batchLoad({ packageIds: ['vec-concise'], outputDir });
    const again = await client.vectors.batchLoad({ packageIds: ['vec-concise', 'vec-pirate'], outputDir });
    expect(again[0]).toMatchObject({ packageId: 'vec-concise', success: true, cached: true });
    expect(again[1].cached).toBeUndefined();
    expect(server.purchases.map((p) => p.packageId)).toEqual(['vec-concise', 'vec-pirate']);
  });

  it('a repeated id is bought once and its result repeated', async () => {
    const server = await registry();
    const client = await clientOf(server);
    const outputDir = await tempDir();
    const progress: number[] = [];
    const results = await client.vectors.batchLoad({
      packageIds: ['vec-code', 'vec-code'],
      outputDir,
      onProgress: (p) => progress.push(p.completed),
    });
    expect(results).toHaveLength(2);
    expect(results[0]).toEqual(results[1]);
    expect(server.purchases).toHaveLength(1);
    expect(progress).toEqual([1, 2]);
  });

  it('a throwing callback stops the batch and rejects with its error', async () => {
    const server = await registry();
    const client = await clientOf(server);
    const outputDir = await tempDir();
    const boom = new Error('callback failed');
    await expect(
      client.vectors.batchLoad({
        packageIds: ['vec-concise', 'vec-pirate'],
        outputDir,
        onLoaded: () => {
          throw boom;
        },
      }),
    ).rejects.toBe(boom);
  });

  it('checks its parameters', async () => {
    const server = await registry();
    const client = await clientOf(server);
    await expect(
      client.vectors.batchLoad({ packageIds: ['a'], outputDir: '/tmp/x', maxConcurrency: 0 }),
    ).rejects.toThrow(RangeError);
    await expect(client.vectors.batchLoad({ packageIds: [''], outputDir: '/tmp/x' })).rejects.toThrow(TypeError);
    expect(await client.vectors.batchLoad({ packageIds: [], outputDir: '/tmp/x' })).toEqual([]);
  });
});
