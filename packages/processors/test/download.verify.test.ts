// Verification before anything reaches the final path: a corrupted byte (sha256 mismatch), a size mismatch, a
// server digest that does not match, an invalid .safetensors file: each fails with nothing at the final path and
// no partial left. A file already present and verified costs no request; a present but wrong one is replaced.
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { downloadFile } from '../src/download/index.ts';
import { writeSafetensors } from '../src/safetensors/index.ts';
import { partialsIn, tempFolder, tensor } from './fixtures-weights/models.ts';
import { type FileServer, patterned, sha256, startFileServer } from './fixtures-weights/server.ts';

let server: FileServer;
let dir: string;
let remove: () => Promise<void>;
const body = patterned(2 * 1024 * 1024 + 99);
beforeEach(async () => {
  server = await startFileServer();
  ({ dir, remove } = await tempFolder());
});
afterEach(async () => {
  await server.close();
  await remove();
});

async function expectNothingLeft(name: string) {
  expect(existsSync(join(dir, name))).toBe(false);
  expect(await partialsIn(dir)).toEqual([]);
}

describe('download verification', () => {
  it('a corrupted byte fails the sha256 check: nothing at the final path, no partial', async () => {
    const corrupted = Buffer.from(body);
    corrupted[1_234_567] ^= 0x01;
    server.files.set('/w.bin', { body: corrupted });
    const result = await downloadFile({ url: server.url('/w.bin'), sha256: sha256(body) }, { outputDir: dir });
    expect(result).toMatchObject({ success: false, filename: 'w.bin', sizeBytes: 0, sha256: '' });
    expect(result.error).toMatch(/sha256 mismatch/);
    await expectNothingLeft('w.bin');
  });

  it('a size different from the request fails', async () => {
    server.files.set('/w.bin', { body });
    const result = await downloadFile({ url: server.url('/w.bin'), size: body.length + 1 }, { outputDir: dir });
    expect(result.error).toMatch(/size mismatch/);
    await expectNothingLeft('w.bin');
  });

  it('checks the server digest (Repr-Digest) when the request has no sha256', async () => {
    const good = Buffer.from(sha256(body), 'hex').toString('base64');
    server.files.set('/ok.bin', { body, headers: { 'repr-digest': `sha-256=:${good}:` } });
    expect((await downloadFile({ url: server.url('/ok.bin') }, { outputDir: dir })).success).toBe(true);
    const bad = Buffer.from(sha256(Buffer.from('other')), 'hex').toString('base64');
    server.files.set('/bad.bin', { body, headers: { 'repr-digest': `sha-256=:${bad}:` } });
    const result = await downloadFile({ url: server.url('/bad.bin') }, { outputDir: dir });
    expect(result.error).toMatch(/sha256 mismatch/);
    await expectNothingLeft('bad.bin');
  });

  it('a strong ETag that is a sha256 (as model hubs send) is checked too', async () => {
    server.files.set('/e.bin', { body, etag: `"${sha256(Buffer.from('not it'))}"` });
    const result = await downloadFile({ url: server.url('/e.bin') }, { outputDir: dir });
    expect(result.error).toMatch(/sha256 mismatch/);
    await expectNothingLeft('e.bin');
  });

  it('a .safetensors file is header-checked: a truncated one fails with the format error', async () => {
    const source = join(dir, 'source.safetensors');
    await writeSafetensors(source, [tensor('a', [1, 2, 3, 4])]);
    const bytes = await readFile(source);
    server.files.set('/m.safetensors', { body: bytes.subarray(0, bytes.length - 4) });
    const result = await downloadFile({ url: server.url('/m.safetensors') }, { outputDir: dir });
    expect(result.error).toMatch(/not a valid safetensors file: .*truncated/);
    await expectNothingLeft('m.safetensors');
    server.files.set('/good.safetensors', { body: bytes });
    expect((await downloadFile({ url: server.url('/good.safetensors') }, { outputDir: dir })).success).toBe(true);
  });

  it('a file already present with the requested sha256 costs no request', async () => {
    server.files.set('/w.bin', { body });
    await writeFile(join(dir, 'w.bin'), body);
    const result = await downloadFile(
      { url: server.url('/w.bin'), sha256: sha256(body), size: body.length },
      { outputDir: dir },
    );
    expect(result).toEqual({
      url: server.url('/w.bin'),
      filename: 'w.bin',
      path: join(dir, 'w.bin'),
      sizeBytes: body.length,
      sha256: sha256(body),
      success: true,
    });
    expect(server.requests).toHaveLength(0);
  });

  it('a file present with other content is downloaded again and replaced', async () => {
    server.files.set('/w.bin', { body });
    await writeFile(join(dir, 'w.bin'), 'stale');
    const result = await downloadFile({ url: server.url('/w.bin'), sha256: sha256(body) }, { outputDir: dir });
    expect(result.success).toBe(true);
    expect(server.requests).toHaveLength(1);
    expect(sha256(await readFile(join(dir, 'w.bin')))).toBe(sha256(body));
  });

  it('an invalid request is a failed result, not a rejection', async () => {
    expect(await downloadFile({ url: 'not a url' }, { outputDir: dir })).toMatchObject({
      success: false,
      error: expect.stringMatching(/invalid URL/),
    });
    expect(await downloadFile({ url: 'ftp://x/y' }, { outputDir: dir })).toMatchObject({ success: false });
    expect(await downloadFile({ url: server.url('/x'), sha256: 'abc' }, { outputDir: dir })).toMatchObject({
      success: false,
    });
    expect(server.requests).toHaveLength(0);
  });
});
