// Retries: 503 with Retry-After waits exactly that long (fake timers) then succeeds; retryable statuses give up
// after `retries` retries; 400/401/403/404/410 are never retried; network errors are.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { downloadFile, type RetryEvent } from '../src/download/index.ts';
import { partialsIn, tempFolder } from './fixtures-weights/models.ts';
import { type FileServer, patterned, sha256, startFileServer } from './fixtures-weights/server.ts';

let server: FileServer;
let dir: string;
let remove: () => Promise<void>;
const body = patterned(200_000);
beforeEach(async () => {
  server = await startFileServer();
  ({ dir, remove } = await tempFolder());
  server.files.set('/f.bin', { body, etag: '"e"' });
});
afterEach(async () => {
  vi.useRealTimers();
  await server.close();
  await remove();
});

describe('download retries', () => {
  it('503 with Retry-After: waits that long (not less), then succeeds', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    server.route('/f.bin', (r) => (r.nth === 1 ? { status: 503, headers: { 'retry-after': '3' } } : undefined));
    const retries: RetryEvent[] = [];
    let retried!: () => void;
    const waiting = new Promise<void>((resolve) => {
      retried = resolve;
    });
    const result = downloadFile(
      { url: server.url('/f.bin') },
      {
        outputDir: dir,
        onRetry: (e) => {
          retries.push(e);
          retried();
        },
      },
    );
    await waiting;
    expect(retries).toEqual([
      expect.objectContaining({ attempt: 1, delayMs: 3000, reason: expect.stringContaining('HTTP 503'), bytesDone: 0 }),
    ]);
    await vi.advanceTimersByTimeAsync(2999);
    expect(server.requests).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    vi.useRealTimers();
    expect(await result).toMatchObject({ success: true, sha256: sha256(body) });
    expect(server.requests).toHaveLength(2);
  });

  it('Retry-After as an HTTP date is honoured too', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const when = new Date(Date.now() + 5000).toUTCString();
    server.route('/f.bin', (r) => (r.nth === 1 ? { status: 429, headers: { 'retry-after': when } } : undefined));
    const delays: number[] = [];
    let retried!: () => void;
    const waiting = new Promise<void>((resolve) => {
      retried = resolve;
    });
    const onRetry = (e: RetryEvent) => {
      delays.push(e.delayMs);
      retried();
    };
    const result = downloadFile({ url: server.url('/f.bin') }, { outputDir: dir, onRetry });
    await waiting;
    expect(delays[0]).toBeGreaterThan(3000);
    expect(delays[0]).toBeLessThanOrEqual(5000);
    await vi.advanceTimersByTimeAsync(delays[0]);
    vi.useRealTimers();
    expect((await result).success).toBe(true);
  });

  it('gives up after `retries` retries of a retryable status, with backoff between them', async () => {
    server.route('/f.bin', () => ({ status: 500 }));
    const events: RetryEvent[] = [];
    const result = await downloadFile(
      { url: server.url('/f.bin') },
      { outputDir: dir, retries: 2, retryDelayMs: 4, onRetry: (e) => events.push(e) },
    );
    expect(result).toMatchObject({ success: false, sizeBytes: 0, sha256: '' });
    expect(result.error).toMatch(/HTTP 500.*gave up after 2 retries/);
    expect(server.requests).toHaveLength(3);
    expect(events.map((e) => e.attempt)).toEqual([1, 2]);
    // Exponential with jitter: attempt n waits between half and all of 4 * 2^(n-1) ms.
    expect(events[0].delayMs).toBeGreaterThanOrEqual(2);
    expect(events[0].delayMs).toBeLessThanOrEqual(4);
    expect(events[1].delayMs).toBeGreaterThanOrEqual(4);
    expect(events[1].delayMs).toBeLessThanOrEqual(8);
    expect(await partialsIn(dir)).toEqual([]);
  });

  it.each([400, 401, 403, 404, 410])('never retries HTTP %i', async (status) => {
    server.route('/f.bin', () => ({ status }));
    const result = await downloadFile({ url: server.url('/f.bin') }, { outputDir: dir, retries: 5, retryDelayMs: 1 });
    expect(result).toMatchObject({ success: false, error: expect.stringContaining(`HTTP ${status}`) });
    expect(server.requests).toHaveLength(1);
  });

  it('retries a refused connection, then reports it', async () => {
    const url = server.url('/f.bin');
    await server.close();
    const events: RetryEvent[] = [];
    const result = await downloadFile(
      { url },
      { outputDir: dir, retries: 2, retryDelayMs: 1, onRetry: (e) => events.push(e) },
    );
    expect(result.success).toBe(false);
    expect(result.error).toMatch(/ECONNREFUSED/);
    expect(events).toHaveLength(2);
    server = await startFileServer();
  });

  it('retries: 0 means one attempt only', async () => {
    server.route('/f.bin', () => ({ status: 503 }));
    const result = await downloadFile({ url: server.url('/f.bin') }, { outputDir: dir, retries: 0 });
    expect(result.success).toBe(false);
    expect(server.requests).toHaveLength(1);
  });
});
