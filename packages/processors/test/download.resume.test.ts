// Resuming after faults, against a real loopback server: a connection dropped at N bytes resumes with
// Range + If-Range and ends with the right hash; a server ignoring Range makes the client restart; a file
// that changed mid-way is restarted from 0, never spliced (with a proper server and with a broken one); a
// stalled response is aborted and resumed; a 416 for a complete partial goes straight to verification.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { downloadFile } from '../src/download/index.ts';
import { partialsIn, tempFolder } from './fixtures-weights/models.ts';
import { type FileServer, patterned, sha256, startFileServer } from './fixtures-weights/server.ts';

const SIZE = 3 * 1024 * 1024 + 12345;
let server: FileServer;
let dir: string;
let remove: () => Promise<void>;
let body: Buffer;
beforeEach(async () => {
  server = await startFileServer();
  ({ dir, remove } = await tempFolder());
  body = patterned(SIZE);
  server.files.set('/model.bin', { body, etag: '"v1"' });
});
afterEach(async () => {
  await server.close();
  await remove();
});

const fast = { retryDelayMs: 1, maxRetryDelayMs: 2 };

describe('download resume', () => {
  it('a connection dropped at N bytes resumes with Range and If-Range, and the hash is right', async () => {
    const dropAt = 1_500_000;
    server.route('/model.bin', (r) => (r.nth === 1 ? { dropAt } : undefined));
    const result = await downloadFile(
      { url: server.url('/model.bin'), sha256: sha256(body) },
      { outputDir: dir, ...fast },
    );
    expect(result).toEqual({
      url: server.url('/model.bin'),
      filename: 'model.bin',
      path: join(dir, 'model.bin'),
      sizeBytes: SIZE,
      sha256: sha256(body),
      success: true,
    });
    expect(server.requests).toHaveLength(2);
    expect(server.requests[1].range).toMatch(/^bytes=\d+-$/);
    // The client resumes from what it received (at most what was sent), with the ETag as validator.
    expect(Number(/\d+/.exec(server.requests[1].range!)![0])).toBeLessThanOrEqual(dropAt);
    expect(Number(/\d+/.exec(server.requests[1].range!)![0])).toBeGreaterThan(0);
    expect(server.requests[1].ifRange).toBe('"v1"');
    expect(sha256(await readFile(join(dir, 'model.bin')))).toBe(sha256(body));
    expect(await partialsIn(dir)).toEqual([]);
  });

  it('several drops in a row still succeed: the retry counter resets whenever bytes arrived', async () => {
    server.route('/model.bin', (r) => (r.nth <= 4 ? { dropAt: 600_000 } : undefined));
    const result = await downloadFile({ url: server.url('/model.bin') }, { outputDir: dir, retries: 1, ...fast });
    expect(result.success).toBe(true);
    expect(result.sha256).toBe(sha256(body));
    expect(server.requests).toHaveLength(5);
  });

  it('a server that ignores Range (200 to a range request) makes the client restart from 0', async () => {
    server.route('/model.bin', (r) => (r.nth === 1 ? { dropAt: 1_000_000 } : { ignoreRange: true }));
    const result = await downloadFile({ url: server.url('/model.bin') }, { outputDir: dir, ...fast });
    expect(result.success).toBe(true);
    expect(result.sha256).toBe(sha256(body));
    expect(server.requests[1].range).toBeDefined();
    expect(sha256(await readFile(join(dir, 'model.bin')))).toBe(sha256(body));
  });

  it('the file changed mid-way: If-Range fails, the server sends the new file whole, nothing is spliced', async () => {
    const next = patterned(SIZE + 7, 99);
    server.route('/model.bin', (r) => {
      if (r.nth === 1) return { dropAt: 1_000_000 };
      server.files.set('/model.bin', { body: next, etag: '"v2"' });
      return undefined;
    });
    const result = await downloadFile({ url: server.url('/model.bin') }, { outputDir: dir, ...fast });
    expect(result).toMatchObject({ success: true, sizeBytes: next.length, sha256: sha256(next) });
    expect(server.requests[1].ifRange).toBe('"v1"');
    expect(sha256(await readFile(join(dir, 'model.bin')))).toBe(sha256(next));
  });

  it('the file changed mid-way on a server that ignores If-Range (206 with a new ETag): restarted, not spliced', async () => {
    const next = patterned(SIZE, 7);
    server.route('/model.bin', (r) => {
      if (r.nth === 1) return { dropAt: 1_000_000 };
      server.files.set('/model.bin', { body: next, etag: '"v2"' });
      return { ignoreIfRange: true };
    });
    const result = await downloadFile({ url: server.url('/model.bin') }, { outputDir: dir, ...fast });
    expect(result).toMatchObject({ success: true, sha256: sha256(next) });
    expect(server.requests.map((r) => r.range === undefined)).toEqual([true, false, true]);
    expect(sha256(await readFile(join(dir, 'model.bin')))).toBe(sha256(next));
  });

  it('a stalled response is aborted after stallTimeoutMs and resumed', async () => {
    server.route('/model.bin', (r) => (r.nth === 1 ? { stallAt: 1_200_000 } : undefined));
    const result = await downloadFile(
      { url: server.url('/model.bin') },
      { outputDir: dir, stallTimeoutMs: 200, ...fast },
    );
    expect(result.success).toBe(true);
    expect(result.sha256).toBe(sha256(body));
    expect(server.requests).toHaveLength(2);
    expect(server.requests[1].range).toMatch(/^bytes=[1-9]\d*-$/);
  });

  it('416 for a partial that is already complete goes to verification', async () => {
    // Chunked, so the client cannot know the size; the connection drops after the last byte.
    server.route('/model.bin', (r) => (r.nth === 1 ? { chunked: true, dropAt: SIZE } : undefined));
    const result = await downloadFile(
      { url: server.url('/model.bin'), sha256: sha256(body) },
      { outputDir: dir, ...fast },
    );
    expect(result).toMatchObject({ success: true, sizeBytes: SIZE });
    expect(server.requests[1].range).toBe(`bytes=${SIZE}-`);
  });
});
