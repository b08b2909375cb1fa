// Every file name that comes from the registry is checked like the `download` processor checks its
// own: `save(folder)` and `batchLoad({ outputDir })` refuse a name that would land outside the folder
// (`../escape.safetensors`, an absolute path) or reach through a symbolic link leading out of it,
// with UnsafePathError (E_UNSAFE_PATH): nothing is requested, bought, read or written.
import { existsSync } from 'node:fs';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UnsafePathError } from '../src/index.ts';
import { deltaPackage, type RegistryServer } from '../src/testing/index.ts';
import { clientOf, filesIn, registry, tempDir } from './helpers.ts';

const content = deltaPackage({ hidden: 2, full: [0] });

function withFilename(filename: string): Promise<RegistryServer> {
  return registry({
    packages: (defaults) => [...defaults, { id: 'vec-named', kind: 'vector', content, filename }],
  });
}

/** A folder `root/out` to save into, and `root` above it where an escaping name would land. */
async function folders(): Promise<{ root: string; out: string; outside: string }> {
  const root = await tempDir();
  const out = join(root, 'out');
  const outside = join(root, 'outside');
  await mkdir(out);
  await mkdir(outside);
  return { root, out, outside };
}

describe('registry file names', () => {
  it.each([
    ['../escape.safetensors', 'escapes'],
    ['sub/../../escape.safetensors', 'escapes'],
    ['/tmp/escape.safetensors', 'not-relative'],
  ])('save(folder) refuses the registry filename %j before any request', async (filename, reason) => {
    const server = await withFilename(filename);
    const client = await clientOf(server);
    const { root, out } = await folders();
    const receipt = await client.marketplace.purchase({ packageId: 'vec-named' });
    const file = await client.vectors.download(receipt.downloadToken);
    for (const path of [`${out}/`, out]) {
      const error = await file.save(path).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UnsafePathError);
      expect(error).toMatchObject({ code: 'E_UNSAFE_PATH', reason, filename });
      expect((error as Error).message).toContain(`refused filename ${JSON.stringify(filename)}`);
    }
    expect(server.requests.filter((r) => r.route === 'download')).toHaveLength(0);
    expect(await filesIn(out)).toEqual([]);
    expect(await filesIn(root)).toEqual(['out', 'outside']);
    expect(existsSync('/tmp/escape.safetensors')).toBe(false);
  });

  it('save(filePath) writes where the caller said, whatever the registry calls the file', async () => {
    const server = await withFilename('../escape.safetensors');
    const client = await clientOf(server);
    const { root, out } = await folders();
    const receipt = await client.marketplace.purchase({ packageId: 'vec-named' });
    const saved = await (await client.vectors.download(receipt.downloadToken)).save(join(out, 'mine.safetensors'));
    expect(saved.path).toBe(join(out, 'mine.safetensors'));
    expect(await filesIn(root)).toEqual(['out', 'outside']);
  });

  it('save(folder) refuses a registry filename reaching through a link out of the folder', async () => {
    const server = await withFilename('linked/vec.safetensors');
    const client = await clientOf(server);
    const { out, outside } = await folders();
    await symlink(outside, join(out, 'linked'));
    const receipt = await client.marketplace.purchase({ packageId: 'vec-named' });
    const error = await (await client.vectors.download(receipt.downloadToken)).save(out).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'UnsafePathError', code: 'E_UNSAFE_PATH', reason: 'symlink' });
    expect(await filesIn(outside)).toEqual([]);
    expect(server.requests.filter((r) => r.route === 'download')).toHaveLength(0);
  });

  it('batchLoad neither buys nor reports as cached a package whose filename escapes outputDir', async () => {
    const server = await withFilename('../escape.safetensors');
    const client = await clientOf(server);
    const { root, out } = await folders();
    // The very file the name points at, with the registry's bytes: it must not count as "already here".
    await writeFile(join(root, 'escape.safetensors'), content);
    const [result, other] = await client.vectors.batchLoad({ packageIds: ['vec-named', 'vec-formal'], outputDir: out });
    expect(result).toMatchObject({ packageId: 'vec-named', success: false, code: 'E_UNSAFE_PATH' });
    expect(result!.cached).toBeUndefined();
    expect(result!.path).toBeUndefined();
    expect(result!.error).toMatch(/^refused filename "\.\.\/escape\.safetensors": it would escape the output folder/);
    expect(other).toMatchObject({ packageId: 'vec-formal', success: true });
    expect(server.purchases.map((p) => p.packageId)).toEqual(['vec-formal']);
    expect(await filesIn(out)).toEqual(['vec-formal.safetensors']);
    expect(await readFile(join(root, 'escape.safetensors'))).toEqual(Buffer.from(content));
  });

  it('batchLoad refuses a file or subfolder in outputDir that is a link leading out of it', async () => {
    const server = await registry({
      packages: (defaults) => [
        ...defaults,
        { id: 'vec-named', kind: 'vector', content },
        { id: 'vec-sub', kind: 'vector', content, filename: 'linked/vec-sub.safetensors' },
      ],
    });
    const client = await clientOf(server);
    const { out, outside } = await folders();
    // outputDir/vec-named.safetensors -> a file outside with the registry's bytes.
    await writeFile(join(outside, 'secret.safetensors'), content);
    await symlink(join(outside, 'secret.safetensors'), join(out, 'vec-named.safetensors'));
    await symlink(outside, join(out, 'linked'));
    const results = await client.vectors.batchLoad({ packageIds: ['vec-named', 'vec-sub'], outputDir: out });
    for (const result of results) {
      expect(result).toMatchObject({ success: false, code: 'E_UNSAFE_PATH' });
      expect(result.error).toMatch(/symbolic link/);
      expect(result.cached).toBeUndefined();
    }
    expect(server.purchases).toHaveLength(0);
    expect(await filesIn(outside)).toEqual(['secret.safetensors']);
  });

  it('streamAlign fails with UnsafePathError, before buying, when the filename escapes the cache folder', async () => {
    const server = await withFilename('../escape.safetensors');
    const cacheDir = join(await tempDir(), 'cache');
    const client = await clientOf(server, { cacheDir });
    const out = await tempDir();
    const stream = client.wmatrix.streamAlign({
      baseWeights: server.baseModelPath,
      vectorPackageId: 'vec-named',
      strength: 1,
      output: join(out, 'a.safetensors'),
    });
    const error = await (async () => {
      for await (const _ of stream) {
        // no chunk is expected
      }
    })().catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'UnsafePathError', code: 'E_UNSAFE_PATH', reason: 'escapes' });
    expect(server.purchases).toHaveLength(0);
    expect(await filesIn(out)).toEqual([]);
    expect(existsSync(join(cacheDir, '..', 'escape.safetensors'))).toBe(false);
  });
});
