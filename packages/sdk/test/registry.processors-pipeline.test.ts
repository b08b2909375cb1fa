import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { filter, jsonPart, readJSON } from '@sluice/core';
import { AlignmentChunkSchema, align, DownloadResultSchema, download } from '@sluice/processors';
import { describe, expect, it } from 'vitest';
import { purchasePackages, searchPackages } from '../src/index.ts';
import { clientOf, registry, tempDir } from './helpers.ts';

const isType = (type: string) => (p: { mimetype: string }) => p.mimetype.endsWith(`type=${type}`);

describe('registry operations as processors', () => {
  it('search -> purchase -> download -> align streams chunks for each package found', async () => {
    const server = await registry();
    const client = await clientOf(server);
    const dir = await tempDir();
    await mkdir(join(dir, 'aligned'));
    const pipeline = searchPackages(client, 'vector', { query: 'tone', model: server.baseModelName }).pipe(
      purchasePackages(client),
      download({ outputDir: join(dir, 'packages'), maxConcurrency: 2 }),
      align({
        baseWeights: server.baseModelPath,
        strength: 0.5,
        output: (packagePath) => packagePath.replace('/packages/', '/aligned/'),
      }),
      filter(isType('AlignmentChunk')),
    );
    const chunks = (await pipeline().gather())
      .filter((p) => p.substream === '')
      .map((p) => readJSON(p, AlignmentChunkSchema));
    const finals = chunks.filter((c) => c.isFinal);
    expect(finals.map((c) => c.outputPath)).toEqual([
      join(dir, 'aligned', 'vec-formal.safetensors'),
      join(dir, 'aligned', 'vec-cheerful.safetensors'),
      join(dir, 'aligned', 'vec-cautious.safetensors'),
    ]);
    expect(chunks).toHaveLength(12);
  });

  it('purchasePackages takes ids as text, emits DownloadRequests, and turns a failed purchase into a failed result', async () => {
    const server = await registry();
    const client = await clientOf(server);
    const dir = await tempDir();
    const parts = await purchasePackages(client)
      .pipe(download({ outputDir: dir }))(['vec-code', jsonPart({ packageId: 'missing' }, { type: 'PackageRef' })])
      .gather();
    const statuses = parts.filter((p) => p.substream === 'status').map((p) => p.metadata.type);
    expect(statuses).toContain('PackagePurchased');
    expect(statuses).toContain('PurchaseFailed');
    const results = parts.filter(isType('DownloadResult')).map((p) => readJSON(p, DownloadResultSchema));
    expect(results.map((r) => r.success)).toEqual([true, false]);
    expect(results[1].error).toMatch(/package_not_found/);
  });
});
