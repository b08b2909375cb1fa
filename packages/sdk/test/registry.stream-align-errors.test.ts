// streamAlign fails with the registry's typed error when the package cannot be bought (the same
// classes as every other registry call: AuthenticationError, NotFoundError, ...), and with
// DownloadError (its cause kept) otherwise; batchLoad keeps reporting each failure as a string.

import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import {
  type AlignmentChunk,
  AuthenticationError,
  DownloadError,
  NotFoundError,
  type PurchaseFailureMetadata,
  purchasePackages,
} from '../src/index.ts';
import { clientOf, filesIn, registry, tempDir } from './helpers.ts';

async function failureOf(stream: AsyncIterable<AlignmentChunk>): Promise<unknown> {
  try {
    for await (const _ of stream) {
      // no chunk is expected
    }
  } catch (error) {
    return error;
  }
  throw new Error('streamAlign did not fail');
}

describe('streamAlign errors', () => {
  it('a wrong key fails with AuthenticationError (401, the registry hint), not DownloadError', async () => {
    const server = await registry();
    const client = await clientOf(server, { apiKey: 'wrong-key' });
    const outDir = await tempDir();
    const error = await failureOf(
      client.wmatrix.streamAlign({
        baseWeights: server.baseModelPath,
        vectorPackageId: 'vec-code',
        strength: 1,
        output: join(outDir, 'a.safetensors'),
      }),
    );
    expect(error).toBeInstanceOf(AuthenticationError);
    expect(error).toMatchObject({ status: 401, provider: 'registry', providerCode: 'invalid_api_key' });
    expect((error as AuthenticationError).hint).toMatch(/SLUICE_API_KEY/);
    expect(server.purchases).toHaveLength(0);
    expect(await filesIn(outDir)).toEqual([]);
  });

  it('an unknown package fails with NotFoundError (404) naming the package', async () => {
    const server = await registry();
    const client = await clientOf(server);
    const error = await failureOf(
      client.wmatrix.streamAlign({
        baseWeights: server.baseModelPath,
        vectorPackageId: 'nope',
        strength: 1,
        output: join(await tempDir(), 'n.safetensors'),
      }),
    );
    expect(error).toBeInstanceOf(NotFoundError);
    expect((error as NotFoundError).status).toBe(404);
    expect((error as NotFoundError).message).toContain('nope');
  });

  it('a file that cannot be fetched fails with DownloadError naming the package and the status', async () => {
    const server = await registry({ fail: { route: 'download', status: 404 } });
    const client = await clientOf(server);
    const error = await failureOf(
      client.wmatrix.streamAlign({
        baseWeights: server.baseModelPath,
        vectorPackageId: 'vec-code',
        strength: 1,
        output: join(await tempDir(), 'd.safetensors'),
      }),
    );
    expect(error).toBeInstanceOf(DownloadError);
    expect(error).toMatchObject({ code: 'E_DOWNLOAD', packageId: 'vec-code' });
    expect((error as DownloadError).message).toMatch(/vec-code.*HTTP 404/);
    expect((error as DownloadError).url).toMatch(/^http:\/\/127\.0\.0\.1:/);
  });

  it('a purchase failing with an error of another kind is DownloadError whose cause is that error', async () => {
    const server = await registry();
    const client = await clientOf(server);
    const disk = new Error('disk on fire');
    vi.spyOn(client.marketplace, 'getPackage').mockRejectedValue(disk);
    const error = await failureOf(
      client.wmatrix.streamAlign({
        baseWeights: server.baseModelPath,
        vectorPackageId: 'vec-code',
        strength: 1,
        output: join(await tempDir(), 'c.safetensors'),
      }),
    );
    expect(error).toBeInstanceOf(DownloadError);
    expect((error as DownloadError).cause).toBe(disk);
    expect((error as DownloadError).message).toMatch(/vec-code: disk on fire/);
  });

  it('purchasePackages keeps the error itself in the failed result part (metadata.cause)', async () => {
    const server = await registry();
    const client = await clientOf(server, { apiKey: 'wrong-key' });
    const parts = await purchasePackages(client)(['vec-code']).gather();
    const result = parts.find((p) => p.mimetype.endsWith('type=DownloadResult'))!;
    const metadata = result.metadata as unknown as PurchaseFailureMetadata;
    expect(metadata.packageId).toBe('vec-code');
    expect(metadata.cause).toBeInstanceOf(AuthenticationError);
    expect(JSON.parse(result.text ?? '')).toMatchObject({ success: false, error: expect.stringMatching(/HTTP 401/) });
  });

  it('batchLoad still reports each failure as a string naming the status, the registry code and what to do', async () => {
    const server = await registry();
    const outputDir = await tempDir();
    const bad = await clientOf(server, { apiKey: 'wrong-key' });
    const [unauthorized] = await bad.vectors.batchLoad({ packageIds: ['vec-code'], outputDir });
    expect(unauthorized).toEqual({ packageId: 'vec-code', success: false, error: expect.any(String), code: 'E_AUTH' });
    expect(unauthorized.error).toMatch(/HTTP 401 invalid_api_key: .*SLUICE_API_KEY/);
    const good = await clientOf(server);
    const [missing] = await good.vectors.batchLoad({ packageIds: ['nope'], outputDir });
    expect(missing.error).toMatch(/HTTP 404 package_not_found: no package "nope"/);
    expect(missing.code).toBe('E_NOT_FOUND');
  });
});
