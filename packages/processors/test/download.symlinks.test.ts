// Symbolic links inside the output folder are not followed out of it: a request whose path reaches
// through a link to a folder or file outside (or to a missing target) is refused with
// E_UNSAFE_PATH before any request or write, so nothing lands outside and no outside file is
// reported as already downloaded. Links that stay inside the folder are followed.
import { mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { downloadFile, resolveInside, resolveInsideFolder, UnsafePathError } from '../src/download/index.ts';
import { tempFolder } from './fixtures-weights/models.ts';
import { type FileServer, patterned, sha256, startFileServer } from './fixtures-weights/server.ts';

let server: FileServer;
let root: string;
let dir: string;
let outside: string;
let remove: () => Promise<void>;
const body = patterned(10_000);
beforeEach(async () => {
  server = await startFileServer();
  ({ dir: root, remove } = await tempFolder());
  dir = join(root, 'out');
  outside = join(root, 'outside');
  await mkdir(dir);
  await mkdir(outside);
  server.files.set('/w.bin', { body });
});
afterEach(async () => {
  await server.close();
  await remove();
});

describe('download and symbolic links in the output folder', () => {
  it('refuses a request path through a linked subfolder that leads outside, before any request', async () => {
    await symlink(outside, join(dir, 'linked'));
    const result = await downloadFile({ url: server.url('/w.bin'), filename: 'linked/w.bin' }, { outputDir: dir });
    expect(result).toMatchObject({ success: false, filename: 'linked/w.bin', path: '' });
    expect(result.error).toMatch(/^refused filename "linked\/w\.bin": .* is a symbolic link to .*outside/);
    expect(server.requests).toHaveLength(0);
    expect(await readdir(outside)).toEqual([]);
  });

  it('does not report a linked file outside the folder as already downloaded', async () => {
    const secret = join(outside, 'secret.bin');
    await writeFile(secret, body);
    await symlink(secret, join(dir, 'w.bin'));
    const result = await downloadFile(
      { url: server.url('/w.bin'), filename: 'w.bin', sha256: sha256(body), size: body.length },
      { outputDir: dir },
    );
    expect(result.success).toBe(false);
    expect(result.error).toMatch(/symbolic link/);
    expect(server.requests).toHaveLength(0);
    expect(await readFile(secret)).toEqual(body);
  });

  it('refuses a server-given name through a link, with nothing written outside', async () => {
    await symlink(outside, join(dir, 'linked'));
    server.files.set('/download', { body, headers: { 'content-disposition': 'attachment; filename="linked/x.bin"' } });
    const result = await downloadFile({ url: server.url('/download') }, { outputDir: dir });
    expect(result.success).toBe(false);
    expect(result.error).toMatch(/symbolic link/);
    expect(await readdir(outside)).toEqual([]);
    expect((await readdir(dir)).sort()).toEqual(['linked']);
  });

  it('refuses a dangling link, and follows links that stay inside the folder', async () => {
    await symlink(join(root, 'missing'), join(dir, 'dangling'));
    const dangling = await downloadFile({ url: server.url('/w.bin'), filename: 'dangling/w.bin' }, { outputDir: dir });
    expect(dangling.error).toMatch(/symbolic link to a missing target/);
    await mkdir(join(dir, 'real'));
    await symlink(join(dir, 'real'), join(dir, 'alias'));
    const inside = await downloadFile({ url: server.url('/w.bin'), filename: 'alias/w.bin' }, { outputDir: dir });
    expect(inside).toMatchObject({ success: true, path: join(dir, 'alias', 'w.bin') });
    expect(await readFile(join(dir, 'real', 'w.bin'))).toEqual(body);
  });

  it('throws UnsafePathError with code E_UNSAFE_PATH and a reason', async () => {
    await symlink(outside, join(dir, 'linked'));
    const cases: [() => unknown, string][] = [
      [() => resolveInside(dir, '../x'), 'escapes'],
      [() => resolveInside(dir, '/etc/x'), 'not-relative'],
      [() => resolveInside(dir, 'sub/'), 'names-folder'],
    ];
    for (const [run, reason] of cases) {
      expect(run).toThrow(UnsafePathError);
      expect(() => run()).toThrow(expect.objectContaining({ code: 'E_UNSAFE_PATH', reason }));
    }
    await expect(resolveInsideFolder(dir, 'linked/x')).rejects.toMatchObject({
      name: 'UnsafePathError',
      code: 'E_UNSAFE_PATH',
      reason: 'symlink',
      filename: 'linked/x',
      folder: dir,
    });
    expect(await resolveInsideFolder(dir, 'new/sub/x')).toBe(join(dir, 'new', 'sub', 'x'));
    expect(await resolveInsideFolder(join(root, 'not-yet'), 'x')).toBe(join(root, 'not-yet', 'x'));
  });
});
