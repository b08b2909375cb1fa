import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readSafetensorsHeader } from '@sluice/processors';
import { describe, expect, it } from 'vitest';
import { APIError, DownloadError, NotFoundError } from '../src/index.ts';
import { deltaPackage } from '../src/testing/index.ts';
import { clientOf, filesIn, registry, tempDir } from './helpers.ts';

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

describe('vectors.download and save', () => {
  it('describes the file and saves it, verified, at the given path', async () => {
    const server = await registry();
    const client = await clientOf(server);
    const dir = await tempDir();
    const receipt = await client.marketplace.purchase({ packageId: 'vec-formal' });
    const file = await client.vectors.download(receipt.downloadToken);
    const pkg = server.packages.find((p) => p.id === 'vec-formal')!;
    expect(file).toMatchObject({ filename: 'vec-formal.safetensors', sizeBytes: pkg.sizeBytes, sha256: pkg.sha256 });
    expect(file.sizeMb).toBeCloseTo(pkg.sizeBytes / 1048576, 12);
    const target = join(dir, 'formal.safetensors');
    const saved = await file.save(target);
    expect(saved).toEqual({ path: target, sizeBytes: pkg.sizeBytes, sha256: pkg.sha256 });
    expect(sha256(await readFile(target))).toBe(pkg.sha256);
    const header = await readSafetensorsHeader(target);
    expect(header.metadata.lora_alpha).toBe('4');
    expect(await filesIn(dir)).toEqual(['formal.safetensors']);
    // The content request carried no Authorization: the token in the URL is the credential.
    const content = server.requests.find((r) => r.route === 'download')!;
    expect(content.headers.authorization).toBeUndefined();
  });

  it('saving into a folder keeps the registry filename', async () => {
    const server = await registry();
    const client = await clientOf(server);
    const dir = await tempDir();
    const receipt = await client.marketplace.purchase({ packageId: 'mem-pirate-lore' });
    const saved = await (await client.vectors.download(receipt.downloadToken)).save(dir);
    expect(saved.path).toBe(join(dir, 'mem-pirate-lore.jsonl'));
    expect((await readFile(saved.path, 'utf8')).split('\n')[0]).toContain('Jolly Roger');
  });

  it('resumes with Range after the connection drops mid-file', async () => {
    // Big enough (4 MiB) that the client surely holds some bytes when the connection drops.
    const big = deltaPackage({ hidden: 512, full: [0, 1, 2, 3] });
    const dropAt = 1_500_000;
    const server = await registry({
      packages: (defaults) => [...defaults, { id: 'vec-big', kind: 'vector', content: big }],
      fail: { route: 'download', dropAfter: dropAt },
    });
    const client = await clientOf(server);
    const dir = await tempDir();
    const receipt = await client.marketplace.purchase({ packageId: 'vec-big' });
    const file = await client.vectors.download(receipt.downloadToken);
    const saved = await file.save(join(dir, 'big.safetensors'), { retries: 2 });
    expect(saved.sha256).toBe(sha256(big));
    const contents = server.requests.filter((r) => r.route === 'download');
    expect(contents).toHaveLength(2);
    const resumedAt = Number(/^bytes=(\d+)-$/.exec(String(contents[1].headers.range))?.[1]);
    expect(resumedAt).toBeGreaterThan(0);
    expect(resumedAt).toBeLessThanOrEqual(dropAt);
    expect(contents[1].headers['if-range']).toBe(`"${file.sha256}"`);
    expect(contents[1].status).toBe(206);
    expect(await filesIn(dir)).toEqual(['big.safetensors']);
  });

  it('a file that does not match its sha256 is refused and nothing is left behind', async () => {
    const server = await registry({
      packages: (defaults) => defaults.map((p) => (p.id === 'vec-code' ? { ...p, fault: 'corrupt' as const } : p)),
    });
    const client = await clientOf(server);
    const dir = await tempDir();
    const receipt = await client.marketplace.purchase({ packageId: 'vec-code' });
    const file = await client.vectors.download(receipt.downloadToken);
    const error = await file.save(join(dir, 'code.safetensors')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DownloadError);
    expect((error as DownloadError).message).toMatch(/sha256 mismatch/);
    expect((error as DownloadError).packageId).toBe('vec-code');
    expect(await filesIn(dir)).toEqual([]);
  });

  it('a file already there with the right sha256 costs no request', async () => {
    const server = await registry();
    const client = await clientOf(server);
    const dir = await tempDir();
    const receipt = await client.marketplace.purchase({ packageId: 'vec-cautious' });
    const file = await client.vectors.download(receipt.downloadToken);
    await file.save(dir);
    await file.save(dir);
    expect(server.requests.filter((r) => r.route === 'download')).toHaveLength(1);
  });

  it('an existing different file at the path is replaced only by a verified download', async () => {
    const server = await registry();
    const client = await clientOf(server);
    const dir = await tempDir();
    await mkdir(dir, { recursive: true });
    const target = join(dir, 'x.safetensors');
    await writeFile(target, 'old content');
    const receipt = await client.marketplace.purchase({ packageId: 'vec-cautious' });
    const saved = await (await client.vectors.download(receipt.downloadToken)).save(target);
    expect(sha256(await readFile(target))).toBe(saved.sha256);
  });

  it('an expired token is a 410 APIError saying to purchase again', async () => {
    const server = await registry({ tokenTtlMs: 0 });
    const client = await clientOf(server);
    const receipt = await client.marketplace.purchase({ packageId: 'vec-code' });
    const error = await client.vectors.download(receipt.downloadToken).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(APIError);
    expect(error).toMatchObject({ status: 410, providerCode: 'download_token_expired' });
    expect((error as APIError).hint).toMatch(/purchase again/);
  });

  it('an unknown token is NotFoundError', async () => {
    const server = await registry();
    const client = await clientOf(server);
    await expect(client.vectors.download('dl_nope')).rejects.toBeInstanceOf(NotFoundError);
  });

  it('the server honours HEAD, Range, If-None-Match and advertises the digest', async () => {
    const server = await registry();
    const client = await clientOf(server);
    const receipt = await client.marketplace.purchase({ packageId: 'chain-summarize' });
    const { url, sha256: hex, sizeBytes } = receipt.download;
    const head = await fetch(url, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(sizeBytes));
    expect(head.headers.get('etag')).toBe(`"${hex}"`);
    expect(head.headers.get('x-sha256')).toBe(hex);
    expect(head.headers.get('repr-digest')).toBe(`sha-256=:${Buffer.from(hex, 'hex').toString('base64')}:`);
    expect(head.headers.get('accept-ranges')).toBe('bytes');
    const part = await fetch(url, { headers: { range: 'bytes=2-5' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 2-5/${sizeBytes}`);
    expect(await part.text()).toBe('step');
    const beyond = await fetch(url, { headers: { range: `bytes=${sizeBytes}-` } });
    expect(beyond.status).toBe(416);
    await beyond.arrayBuffer();
    const cached = await fetch(url, { headers: { 'if-none-match': `"${hex}"` } });
    expect(cached.status).toBe(304);
    const stale = await fetch(url, { headers: { range: 'bytes=0-1', 'if-range': '"other"' } });
    expect(stale.status).toBe(200);
    await stale.arrayBuffer();
  });
});
