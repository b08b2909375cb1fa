// File names come from the request, Content-Disposition or the URL, and are sanitised: a name that would
// escape the output folder is refused (no request when the request itself names it), nothing is written outside.
import { existsSync } from 'node:fs';
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { downloadFile, filenameFromContentDisposition } from '../src/download/index.ts';
import { tempFolder } from './fixtures-weights/models.ts';
import { type FileServer, patterned, startFileServer } from './fixtures-weights/server.ts';

let server: FileServer;
let root: string;
let dir: string;
let remove: () => Promise<void>;
const body = patterned(10_000);
beforeEach(async () => {
  server = await startFileServer();
  ({ dir: root, remove } = await tempFolder());
  dir = join(root, 'out');
  await mkdir(dir);
  server.files.set('/f', { body });
});
afterEach(async () => {
  await server.close();
  await remove();
});

describe('download file names', () => {
  it.each(['../evil.bin', 'a/../../evil.bin', '/etc/evil.bin', 'a\\..\\evil.bin', '', '.', 'dir/'])(
    'refuses the request filename %j without asking the server',
    async (filename) => {
      const result = await downloadFile({ url: server.url('/f'), filename }, { outputDir: dir });
      expect(result.success).toBe(false);
      expect(result.error).toMatch(/escape the output folder|not a plain relative file name/);
      expect(server.requests).toHaveLength(0);
      expect(await readdir(root)).toEqual(['out']);
      expect(await readdir(dir)).toEqual([]);
    },
  );

  it('a refused request filename stays in the result, with no path and an error saying why', async () => {
    const result = await downloadFile({ url: server.url('/f'), filename: '../escape.bin' }, { outputDir: dir });
    expect(result).toMatchObject({ success: false, filename: '../escape.bin', path: '', sizeBytes: 0, sha256: '' });
    expect(result.error).toMatch(/^refused filename "\.\.\/escape\.bin": it would escape the output folder /);
    const folder = await downloadFile({ url: server.url('/f'), filename: 'sub/' }, { outputDir: dir });
    expect(folder).toMatchObject({ success: false, filename: 'sub/', path: '' });
    expect(folder.error).toMatch(/refused filename "sub\/": not a plain relative file name \(it names a folder\)/);
    expect(server.requests).toHaveLength(0);
  });

  it('refuses a URL whose last segment decodes to a path escaping the folder', async () => {
    server.files.set('/../../evil.bin', { body });
    const result = await downloadFile({ url: `${server.origin}/..%2F..%2Fevil.bin` }, { outputDir: dir });
    expect(result.success).toBe(false);
    expect(existsSync(join(root, 'evil.bin'))).toBe(false);
  });

  it('refuses a Content-Disposition name escaping the folder', async () => {
    server.files.set('/download', {
      body,
      headers: { 'content-disposition': 'attachment; filename="../../evil.bin"' },
    });
    const result = await downloadFile({ url: server.url('/download') }, { outputDir: dir });
    expect(result).toMatchObject({ success: false, error: expect.stringMatching(/escape/) });
    expect(await readdir(root)).toEqual(['out']);
    expect(await readdir(dir)).toEqual([]);
  });

  it('takes the name from Content-Disposition (filename* first), else from the URL', async () => {
    server.files.set('/download', {
      body,
      headers: { 'content-disposition': `attachment; filename="plain.bin"; filename*=UTF-8''m%C3%B6del.bin` },
    });
    expect(await downloadFile({ url: server.url('/download') }, { outputDir: dir })).toMatchObject({
      success: true,
      filename: 'mödel.bin',
      path: join(dir, 'mödel.bin'),
    });
    expect(await downloadFile({ url: server.url('/f?x=1') }, { outputDir: dir })).toMatchObject({ filename: 'f' });
  });

  it('the request filename wins, and may name a subfolder inside outputDir', async () => {
    const result = await downloadFile({ url: server.url('/f'), filename: 'sub/dir/w.bin' }, { outputDir: dir });
    expect(result).toMatchObject({ success: true, path: join(dir, 'sub/dir/w.bin') });
  });

  it('parses Content-Disposition forms', () => {
    expect(filenameFromContentDisposition('attachment; filename=a.bin')).toBe('a.bin');
    expect(filenameFromContentDisposition('attachment; filename="a \\"b\\".bin"')).toBe('a "b".bin');
    expect(filenameFromContentDisposition("inline; filename*=utf-8'en'%E2%82%AC.bin")).toBe('€.bin');
    expect(filenameFromContentDisposition('inline')).toBeUndefined();
    expect(filenameFromContentDisposition(undefined)).toBeUndefined();
  });
});
