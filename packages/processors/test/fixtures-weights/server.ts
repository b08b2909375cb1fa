// A real loopback HTTP file server with fault injection, for the download tests: Range/If-Range/ETag done
// properly by default, and per-request hooks to drop the connection at N bytes, ignore Range, change the file,
// answer an error status, stall, or hold responses to observe concurrency.
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** A file the server holds. */
export interface ServedFile {
  body: Buffer;
  etag?: string;
  headers?: Record<string, string>;
}

/** What one request asked for, as the server saw it. */
export interface SeenRequest {
  readonly path: string;
  readonly range: string | undefined;
  readonly ifRange: string | undefined;
  /** 1-based index of this request among those for the same path. */
  readonly nth: number;
}

/** How to answer one request; `undefined` fields mean "behave properly". */
export interface Answer {
  /** Answer this status with an empty body instead of the file. */
  status?: number;
  headers?: Record<string, string>;
  /** Close the connection after this many body bytes of this response (even if that is all of them). */
  dropAt?: number;
  /** Send this many body bytes, then nothing more, not even the end (the connection stays open). */
  stallAt?: number;
  /** Answer 200 with the whole file even to a Range request. */
  ignoreRange?: boolean;
  /** Answer a Range request with 206 even when If-Range does not match (a broken server). */
  ignoreIfRange?: boolean;
  /** Use chunked encoding (no Content-Length). */
  chunked?: boolean;
  /** Wait for this promise before sending the body (after the headers). */
  holdBody?: Promise<void>;
  /** Send this many bytes before `holdBody` is awaited. */
  bytesBeforeHold?: number;
}

export type Route = (request: SeenRequest) => Answer | undefined;

export interface FileServer {
  readonly origin: string;
  readonly files: Map<string, ServedFile>;
  readonly requests: SeenRequest[];
  /** Requests being answered right now, and the most ever seen at once. */
  readonly active: () => number;
  readonly maxActive: () => number;
  /** Open TCP connections. */
  readonly connections: () => number;
  /** Resolves when no connection is open. */
  idle(): Promise<void>;
  /** Resolves when `count` requests have arrived in all. */
  requestsReached(count: number): Promise<void>;
  url(path: string): string;
  route(path: string, route: Route): void;
  close(): Promise<void>;
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Bytes that differ at every position, so a splice or an off-by-one shows up in the hash. */
export function patterned(size: number, seed = 1): Buffer {
  const out = Buffer.alloc(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

export async function startFileServer(): Promise<FileServer> {
  const files = new Map<string, ServedFile>();
  const routes = new Map<string, Route>();
  const requests: SeenRequest[] = [];
  const sockets = new Set<Socket>();
  const counts = new Map<string, number>();
  let active = 0;
  let maxActive = 0;
  let idleWaiters: (() => void)[] = [];
  let countWaiters: { count: number; resolve: () => void }[] = [];

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const nth = (counts.get(path) ?? 0) + 1;
    counts.set(path, nth);
    const seen: SeenRequest = {
      path,
      range: req.headers.range,
      ifRange: req.headers['if-range'] as string | undefined,
      nth,
    };
    requests.push(seen);
    for (const w of countWaiters.filter((w) => requests.length >= w.count)) w.resolve();
    countWaiters = countWaiters.filter((w) => requests.length < w.count);
    active++;
    maxActive = Math.max(maxActive, active);
    let counted = true;
    const done = () => {
      if (counted) active--;
      counted = false;
    };
    res.on('close', done);
    res.on('finish', done);
    void answer(seen, routes.get(path)?.(seen) ?? {}, res).catch(() => res.destroy());
  });

  async function answer(seen: SeenRequest, a: Answer, res: ServerResponse) {
    const file = files.get(seen.path);
    if (a.status !== undefined || !file) {
      res.writeHead(a.status ?? 404, { 'content-length': '0', ...a.headers });
      res.end();
      return;
    }
    const total = file.body.length;
    const headers: Record<string, string> = { 'accept-ranges': 'bytes', ...file.headers, ...a.headers };
    if (file.etag) headers.etag = file.etag;
    let start = 0;
    let status = 200;
    const range = /^bytes=(\d+)-$/.exec(seen.range ?? '');
    const validatorOk = !seen.ifRange || seen.ifRange === file.etag || a.ignoreIfRange;
    if (range && !a.ignoreRange && validatorOk) {
      start = Number(range[1]);
      if (start >= total) {
        res.writeHead(416, { 'content-range': `bytes */${total}`, 'content-length': '0' });
        res.end();
        return;
      }
      status = 206;
      headers['content-range'] = `bytes ${start}-${total - 1}/${total}`;
    }
    const body = file.body.subarray(start);
    if (!a.chunked) headers['content-length'] = String(body.length);
    res.writeHead(status, headers);
    const limit = Math.min(a.dropAt ?? Number.POSITIVE_INFINITY, a.stallAt ?? Number.POSITIVE_INFINITY, body.length);
    let sent = 0;
    const send = (upTo: number) =>
      new Promise<void>((resolve) => {
        const piece = body.subarray(sent, upTo);
        sent = upTo;
        if (piece.length === 0) return resolve();
        res.write(piece, () => resolve());
      });
    if (a.holdBody) {
      await send(Math.min(a.bytesBeforeHold ?? 0, limit));
      await a.holdBody;
    }
    while (sent < limit) await send(Math.min(limit, sent + 256 * 1024));
    if (a.dropAt !== undefined) {
      res.socket?.destroy();
      return;
    }
    if (a.stallAt !== undefined) return;
    res.end();
  }

  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => {
      sockets.delete(socket);
      if (sockets.size === 0) {
        const waiters = idleWaiters;
        idleWaiters = [];
        for (const w of waiters) w();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;
  return {
    origin,
    files,
    requests,
    active: () => active,
    maxActive: () => maxActive,
    connections: () => sockets.size,
    idle: () => (sockets.size === 0 ? Promise.resolve() : new Promise((resolve) => idleWaiters.push(resolve))),
    requestsReached: (count) =>
      requests.length >= count ? Promise.resolve() : new Promise((resolve) => countWaiters.push({ count, resolve })),
    url: (path) => `${origin}${path}`,
    route: (path, route) => routes.set(path, route),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
