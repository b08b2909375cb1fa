// A real loopback implementation of the registry HTTP API (sdk README,
// "Registry HTTP API"), seeded with a generated base model and packages that
// fit it. It records every request, and injects faults on request: failing
// statuses, dropped connections (also after a committed purchase, or in the
// middle of a download), corrupt files, and downloads held until released.

import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listenLoopback } from '@sluice/processors/testing';
import type { AnyPackage, DownloadInfo, PackageKind, Receipt } from '../client/schemas.ts';
import {
  type BaseModelSpec,
  baseModelName,
  defaultPackages,
  type PackageSeed,
  sha256Hex,
  writeBaseModel,
} from './seed.ts';

/** The routes of the registry, as named in faults and recorded requests. */
export type RegistryRoute = 'search' | 'package' | 'purchase' | 'download-info' | 'download' | 'unknown';

/**
 * A failure the server injects into the next matching requests, in the words of the fake model
 * server: `status` fails the answer (as its `fail`), `dropAfter` destroys the connection and
 * `stallAfter` goes silent (as its `dropAfter`/`stallAfter`, counted here in body bytes).
 */
export interface RegistryFault {
  route: Exclude<RegistryRoute, 'unknown'>;
  /** Answer with this status and a JSON error body instead of the normal answer (default 500 when no other fault is set). */
  status?: number;
  /** Extra headers of that answer, e.g. `{ 'retry-after': '0' }`. */
  headers?: Record<string, string>;
  /** Destroy the connection after this many bytes of the body ('download'; other routes: before answering, use 0). */
  dropAfter?: number;
  /** Stop sending (the connection stays open until the client gives up or the server closes); only 0 (never answer). */
  stallAfter?: 0;
  /** 'purchase': commit the purchase first, then fail the answer (the client never sees its receipt). */
  afterCommit?: boolean;
  /** Only requests about this package (purchase body, package id, download token's package). */
  packageId?: string;
  /** Number of matching requests it applies to; default 1. */
  times?: number;
}

/** Options of `startRegistryServer`; every one has a default. */
export interface RegistryServerOptions {
  /** The catalogue: a list replacing the default one, or a function of the default list. */
  packages?: PackageSeed[] | ((defaults: PackageSeed[]) => PackageSeed[]);
  /** The bearer token the server accepts; default 'sluice-test-key'. */
  apiKey?: string;
  /** Shape of the generated base model; default 4 layers, hidden size 16 (F32 and BF16 tensors). */
  baseModel?: BaseModelSpec;
  /** Folder for the base model file; default a temporary folder, deleted by `close()` (a given folder is kept). */
  dir?: string;
  /** Hold file downloads before their first byte until `releaseDownloads()`: all of them, or those of these package ids. */
  holdDownloads?: boolean | readonly string[];
  /** Faults for the first matching requests (see `fail()`): one, or a list. */
  fail?: RegistryFault | readonly RegistryFault[];
  /** Lifetime of download tokens; default one hour. */
  tokenTtlMs?: number;
  /** Listen address; default 127.0.0.1 and a free port. */
  host?: string;
  port?: number;
}

/** A request the server received. */
export interface RegistryRequest {
  /** 0 for the first request. */
  readonly index: number;
  readonly method: string;
  /** Path and query, e.g. '/v1/vectors?query=style&limit=2'. */
  readonly path: string;
  readonly route: RegistryRoute;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** Parsed JSON body, when there was one. */
  readonly body: unknown;
  /** Status answered (undefined while the answer has not started, or when the connection was dropped). */
  readonly status: number | undefined;
}

/** A running testing registry. */
export interface RegistryServer extends AsyncDisposable {
  /** The origin, e.g. 'http://127.0.0.1:41234' (`new Client({ baseURL: url })` adds '/v1'). */
  readonly url: string;
  /** The API base URL, `${url}/v1`. */
  readonly baseURL: string;
  readonly apiKey: string;
  /** The generated base model: a single `.safetensors` file. */
  readonly baseModelPath: string;
  /** Its name, the `model` of the packages that fit it, e.g. 'sluice-tiny-4l'. */
  readonly baseModelName: string;
  /** The catalogue, as the API describes packages. */
  readonly packages: readonly AnyPackage[];
  /** Every request, in arrival order. */
  readonly requests: readonly RegistryRequest[];
  /** Every purchase made (each one a charge), in order; replays of an Idempotency-Key are not purchases. */
  readonly purchases: readonly Receipt[];
  /** File downloads in progress now (held ones included). */
  readonly activeDownloads: number;
  /** The most file downloads that were ever in progress at once. */
  readonly maxActiveDownloads: number;
  /** Adds a fault for the next matching requests. */
  fail(fault: RegistryFault): void;
  /** Resolves once `count` file downloads are in progress at the same time (held ones included). */
  waitForActiveDownloads(count: number): Promise<void>;
  /** Lets held downloads go, and stops holding new ones. */
  releaseDownloads(): void;
  /** Stops listening, destroys open connections, deletes the temporary folder. */
  close(): Promise<void>;
}

interface StoredPackage {
  readonly meta: AnyPackage;
  readonly content: Uint8Array;
  readonly served: Uint8Array;
  readonly fault: PackageSeed['fault'];
  readonly contentType: string;
}

interface Token {
  readonly packageId: string;
  readonly receiptId: string;
  readonly expiresAt: number;
}

interface Cursor {
  k: PackageKind;
  q: string;
  m: string | null;
  o: number;
}

const KIND_BY_PATH: Record<string, PackageKind> = { vectors: 'vector', memories: 'memory', chains: 'chain' };
const CREATED_AT = '2025-01-15T12:00:00.000Z';
const LAST_MODIFIED = new Date(CREATED_AT).toUTCString();

function contentTypeOf(filename: string): string {
  if (filename.endsWith('.jsonl')) return 'application/x-ndjson';
  if (filename.endsWith('.json')) return 'application/json';
  return 'application/octet-stream';
}

function defaultFilename(seed: PackageSeed): string {
  return `${seed.id}.${seed.kind === 'vector' ? 'safetensors' : seed.kind === 'memory' ? 'jsonl' : 'json'}`;
}

function storePackage(seed: PackageSeed, model: string): StoredPackage {
  const filename = seed.filename ?? defaultFilename(seed);
  const base = {
    id: seed.id,
    name: seed.name ?? seed.id,
    description: seed.description ?? '',
    tags: seed.tags ?? [],
    rating: seed.rating ?? 4,
    price: seed.price ?? 1.99,
    currency: seed.currency ?? 'USD',
    model: seed.model ?? model,
    filename,
    sizeBytes: seed.content.byteLength,
    sha256: sha256Hex(seed.content),
    createdAt: CREATED_AT,
  };
  let meta: AnyPackage;
  if (seed.kind === 'vector') meta = { ...base, kind: 'vector', format: seed.format ?? 'full' };
  else if (seed.kind === 'memory') {
    const words = new TextDecoder().decode(seed.content).split(/\s+/).filter(Boolean).length;
    meta = { ...base, kind: 'memory', tokenCount: seed.tokenCount ?? words };
  } else {
    let steps = 0;
    try {
      const value = JSON.parse(new TextDecoder().decode(seed.content)) as { steps?: unknown };
      if (Array.isArray(value.steps)) steps = value.steps.length;
    } catch {
      // not JSON: no steps
    }
    meta = { ...base, kind: 'chain', steps: seed.steps ?? steps };
  }
  let served = seed.content;
  if (seed.fault === 'corrupt') {
    served = seed.content.slice();
    if (served.length > 0) served[served.length - 1]! ^= 0xff;
  }
  return { meta, content: seed.content, served, fault: seed.fault, contentType: contentTypeOf(filename) };
}

function matches(pkg: AnyPackage, terms: readonly string[]): boolean {
  const haystack = `${pkg.id} ${pkg.name} ${pkg.description} ${pkg.tags.join(' ')}`.toLowerCase();
  return terms.every((term) => haystack.includes(term));
}

function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify(cursor)).toString('base64url');
}

function decodeCursor(text: string): Cursor | undefined {
  try {
    const value = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as Cursor;
    return typeof value.o === 'number' && Number.isInteger(value.o) && value.o >= 0 ? value : undefined;
  } catch {
    return undefined;
  }
}

/** `Range: bytes=...` for a file of `size` bytes: the range, 'none' (serve it all) or 'unsatisfiable'. */
function parseRange(
  header: string | undefined,
  size: number,
): { start: number; end: number } | 'none' | 'unsatisfiable' {
  if (!header) return 'none';
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === '' && match[2] === '')) return 'none';
  if (match[1] === '') {
    const suffix = Number(match[2]);
    if (suffix === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(match[1]);
  const end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
  if (start >= size || end < start) return 'unsatisfiable';
  return { start, end };
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Starts the testing registry on loopback (127.0.0.1, a free port by
 * default): the registry HTTP API over a generated base model (written to
 * `baseModelPath`) and a catalogue of packages that fit it. Requests are
 * served concurrently and recorded; `close()` destroys open connections, so a
 * held or dropped download never keeps a test alive.
 */
export async function startRegistryServer(options: RegistryServerOptions = {}): Promise<RegistryServer> {
  const apiKey = options.apiKey ?? 'sluice-test-key';
  const modelName = baseModelName(options.baseModel);
  const defaults = defaultPackages(options.baseModel);
  const seeds = typeof options.packages === 'function' ? options.packages(defaults) : (options.packages ?? defaults);
  const packages = new Map<string, StoredPackage>();
  for (const seed of seeds) {
    if (packages.has(seed.id)) throw new TypeError(`startRegistryServer: duplicate package id ${seed.id}`);
    packages.set(seed.id, storePackage(seed, modelName));
  }
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'sluice-registry-')));
  await mkdir(dir, { recursive: true });
  const baseModelPath = join(dir, `${modelName}.safetensors`);
  await writeBaseModel(baseModelPath, options.baseModel);

  const tokenTtlMs = options.tokenTtlMs ?? 60 * 60 * 1000;
  const initial: readonly RegistryFault[] =
    options.fail === undefined ? [] : Array.isArray(options.fail) ? options.fail : [options.fail as RegistryFault];
  const faults: (RegistryFault & { left: number })[] = initial.map((f) => ({
    ...f,
    left: f.times ?? 1,
  }));
  const requests: (RegistryRequest & { status: number | undefined })[] = [];
  const purchases: Receipt[] = [];
  const tokens = new Map<string, Token>();
  const idempotency = new Map<string, { fingerprint: string; status: number; body: Receipt }>();
  let holding: boolean | readonly string[] = options.holdDownloads ?? false;
  let held: (() => void)[] = [];
  let activeDownloads = 0;
  let maxActiveDownloads = 0;
  let downloadWaiters: { count: number; resolve: () => void }[] = [];
  let origin = '';

  const takeFault = (route: RegistryRoute, packageId: string | undefined): RegistryFault | undefined => {
    const index = faults.findIndex(
      (f) => f.route === route && f.left > 0 && (f.packageId === undefined || f.packageId === packageId),
    );
    if (index === -1) return undefined;
    const fault = faults[index]!;
    fault.left--;
    return fault;
  };

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': String(Buffer.byteLength(text)),
      ...headers,
    });
    res.end(text);
  };
  const sendError = (
    res: ServerResponse,
    status: number,
    code: string,
    message: string,
    headers: Record<string, string> = {},
  ) => {
    const type =
      status === 401
        ? 'authentication_error'
        : status === 404
          ? 'not_found_error'
          : status === 429
            ? 'rate_limit_error'
            : status >= 500
              ? 'api_error'
              : 'invalid_request_error';
    send(res, status, { error: { type, code, message } }, headers);
  };
  /** Answers with an injected fault; true when it did. */
  const applyFault = (req: IncomingMessage, res: ServerResponse, fault: RegistryFault | undefined): boolean => {
    if (!fault) return false;
    if (fault.dropAfter !== undefined) {
      req.socket.destroy();
      return true;
    }
    if (fault.stallAfter !== undefined) return true;
    const status = fault.status ?? 500;
    sendError(res, status, 'injected_fault', `injected ${status} for ${fault.route}`, fault.headers);
    return true;
  };

  const updateDownloads = (delta: number) => {
    activeDownloads += delta;
    maxActiveDownloads = Math.max(maxActiveDownloads, activeDownloads);
    const ready = downloadWaiters.filter((w) => activeDownloads >= w.count);
    downloadWaiters = downloadWaiters.filter((w) => activeDownloads < w.count);
    for (const waiter of ready) waiter.resolve();
  };

  const downloadInfo = (token: string, stored: StoredPackage, expiresAt: number): DownloadInfo => ({
    packageId: stored.meta.id,
    url: `${origin}/v1/downloads/${token}/content`,
    filename: stored.meta.filename,
    sizeBytes: stored.meta.sizeBytes,
    sha256: stored.meta.sha256,
    expiresAt: new Date(expiresAt).toISOString(),
  });

  /** The package behind a download token, or an answer saying why not. */
  const tokenPackage = (res: ServerResponse, token: string): { stored: StoredPackage; entry: Token } | undefined => {
    const entry = tokens.get(token);
    if (!entry) {
      sendError(res, 404, 'download_token_not_found', 'no such download token; purchase the package to get one');
      return undefined;
    }
    if (Date.now() >= entry.expiresAt) {
      sendError(res, 410, 'download_token_expired', 'the download token expired; purchase again');
      return undefined;
    }
    return { stored: packages.get(entry.packageId)!, entry };
  };

  const search = (res: ServerResponse, kind: PackageKind, url: URL) => {
    const query = url.searchParams.get('query') ?? '';
    const model = url.searchParams.get('model');
    const limitText = url.searchParams.get('limit');
    const limit = limitText === null ? 20 : Number(limitText);
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) {
      sendError(res, 400, 'invalid_limit', `limit must be an integer from 1 to 100, got ${limitText}`);
      return;
    }
    let offset = 0;
    const cursorText = url.searchParams.get('cursor');
    if (cursorText !== null) {
      const cursor = decodeCursor(cursorText);
      if (!cursor || cursor.k !== kind || cursor.q !== query || cursor.m !== model) {
        sendError(res, 400, 'invalid_cursor', 'the cursor is invalid or belongs to another search');
        return;
      }
      offset = cursor.o;
    }
    const terms = query.toLowerCase().split(/\s+/).filter(Boolean);
    const found = [...packages.values()]
      .map((p) => p.meta)
      .filter((p) => p.kind === kind && (model === null || p.model === model) && matches(p, terms))
      .sort((a, b) => b.rating - a.rating || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const data = found.slice(offset, offset + limit);
    const nextOffset = offset + data.length;
    const nextCursor = nextOffset < found.length ? encodeCursor({ k: kind, q: query, m: model, o: nextOffset }) : null;
    send(res, 200, { object: 'list', data, nextCursor });
  };

  const purchase = (req: IncomingMessage, res: ServerResponse, body: unknown) => {
    const packageId = (body as { packageId?: unknown } | undefined)?.packageId;
    if (typeof packageId !== 'string' || packageId === '') {
      sendError(res, 400, 'invalid_request', 'the body must be JSON { "packageId": string }');
      return;
    }
    const key = header(req, 'idempotency-key');
    if (key !== undefined && (key.length === 0 || key.length > 255)) {
      sendError(res, 400, 'invalid_idempotency_key', 'Idempotency-Key must be 1 to 255 characters');
      return;
    }
    const fingerprint = JSON.stringify({ packageId });
    if (key !== undefined) {
      const previous = idempotency.get(key);
      if (previous && previous.fingerprint !== fingerprint) {
        sendError(res, 422, 'idempotency_key_reused', 'this Idempotency-Key was used for a different request');
        return;
      }
      if (previous) {
        send(res, previous.status, previous.body, { 'idempotent-replayed': 'true' });
        return;
      }
    }
    const fault = takeFault('purchase', packageId);
    if (fault && !fault.afterCommit && applyFault(req, res, fault)) return;
    const stored = packages.get(packageId);
    if (!stored) {
      sendError(res, 404, 'package_not_found', `no package ${JSON.stringify(packageId)}`);
      return;
    }
    const token = `dl_${randomBytes(16).toString('hex')}`;
    const expiresAt = Date.now() + tokenTtlMs;
    const receiptId = `rcpt_${String(purchases.length + 1).padStart(4, '0')}`;
    tokens.set(token, { packageId, receiptId, expiresAt });
    const receipt: Receipt = {
      receiptId,
      packageId,
      downloadToken: token,
      price: stored.meta.price,
      currency: stored.meta.currency,
      createdAt: new Date().toISOString(),
      download: downloadInfo(token, stored, expiresAt),
    };
    purchases.push(receipt);
    if (key !== undefined) idempotency.set(key, { fingerprint, status: 201, body: receipt });
    if (fault && applyFault(req, res, fault)) return;
    send(res, 201, receipt);
  };

  const serveFile = async (req: IncomingMessage, res: ServerResponse, token: string) => {
    const found = tokenPackage(res, token);
    if (!found) return;
    const { stored } = found;
    const fault = takeFault('download', stored.meta.id);
    if (fault && fault.dropAfter === undefined && applyFault(req, res, fault)) {
      if (fault.stallAfter !== undefined) await once(res, 'close');
      return;
    }
    if (stored.fault === 'not-found') {
      sendError(res, 404, 'file_not_found', `the file of ${stored.meta.id} is missing from storage`);
      return;
    }
    updateDownloads(1);
    try {
      if (holding === true || (Array.isArray(holding) && holding.includes(stored.meta.id))) {
        await new Promise<void>((resolve) => {
          held.push(resolve);
          res.once('close', resolve);
        });
        if (res.destroyed) return;
      }
      const bytes = stored.served;
      const size = bytes.length;
      const etag = `"${stored.meta.sha256}"`;
      const headers: Record<string, string> = {
        'content-type': stored.contentType,
        'accept-ranges': 'bytes',
        etag,
        'last-modified': LAST_MODIFIED,
        'repr-digest': `sha-256=:${Buffer.from(stored.meta.sha256, 'hex').toString('base64')}:`,
        'x-sha256': stored.meta.sha256,
        'content-disposition': `attachment; filename="${stored.meta.filename}"`,
        'cache-control': 'private, max-age=0',
      };
      if (header(req, 'if-none-match') === etag) {
        res.writeHead(304, headers);
        res.end();
        return;
      }
      const ifRange = header(req, 'if-range');
      const rangeAllowed = ifRange === undefined || ifRange === etag || ifRange === LAST_MODIFIED;
      const range = rangeAllowed ? parseRange(header(req, 'range'), size) : 'none';
      if (range === 'unsatisfiable') {
        res.writeHead(416, { ...headers, 'content-range': `bytes */${size}` });
        res.end();
        return;
      }
      const start = range === 'none' ? 0 : range.start;
      const end = range === 'none' ? size - 1 : range.end;
      const body = bytes.subarray(start, end + 1);
      res.writeHead(range === 'none' ? 200 : 206, {
        ...headers,
        'content-length': String(body.length),
        ...(range === 'none' ? {} : { 'content-range': `bytes ${start}-${end}/${size}` }),
      });
      if (req.method === 'HEAD') {
        res.end();
        return;
      }
      if (fault?.dropAfter !== undefined) {
        const sent = body.subarray(0, Math.min(fault.dropAfter, body.length));
        res.flushHeaders();
        await new Promise<void>((resolve) => (sent.length > 0 ? res.write(sent, () => resolve()) : resolve()));
        req.socket.destroy();
        return;
      }
      res.end(body);
      await once(res, 'close');
    } finally {
      updateDownloads(-1);
    }
  };

  const handle = async (req: IncomingMessage, res: ServerResponse, record: RegistryRequest & { body: unknown }) => {
    const url = new URL(req.url ?? '/', 'http://registry');
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const method = req.method ?? 'GET';
    const allow = (methods: string[]) => {
      if (methods.includes(method)) return true;
      sendError(res, 405, 'method_not_allowed', `${method} is not allowed on ${url.pathname}`, {
        allow: methods.join(', '),
      });
      return false;
    };
    const authorized = () => {
      const auth = header(req, 'authorization');
      if (auth === `Bearer ${apiKey}`) return true;
      sendError(
        res,
        401,
        'invalid_api_key',
        auth ? 'the bearer token is not a valid API key' : 'missing bearer token (Authorization: Bearer <key>)',
        { 'www-authenticate': 'Bearer realm="sluice-registry"' },
      );
      return false;
    };
    // Missing segments are '' (each route below also checks how many there are).
    const [version = '', resource = '', id = '', sub = ''] = parts;
    if (version !== 'v1') {
      sendError(res, 404, 'route_not_found', `no route ${url.pathname}; the API lives under /v1`);
      return;
    }
    const kind = Object.hasOwn(KIND_BY_PATH, resource) ? KIND_BY_PATH[resource] : undefined;
    if (kind !== undefined && parts.length === 2) {
      Object.assign(record, { route: 'search' });
      if (!allow(['GET']) || !authorized()) return;
      if (applyFault(req, res, takeFault('search', undefined))) return;
      search(res, kind, url);
      return;
    }
    if (resource === 'packages' && parts.length === 3) {
      Object.assign(record, { route: 'package' });
      if (!allow(['GET']) || !authorized()) return;
      if (applyFault(req, res, takeFault('package', id))) return;
      const stored = packages.get(id);
      if (!stored) sendError(res, 404, 'package_not_found', `no package ${JSON.stringify(id)}`);
      else send(res, 200, stored.meta);
      return;
    }
    if (resource === 'purchases' && parts.length === 2) {
      Object.assign(record, { route: 'purchase' });
      if (!allow(['POST']) || !authorized()) return;
      purchase(req, res, record.body);
      return;
    }
    if (resource === 'downloads' && parts.length === 3) {
      Object.assign(record, { route: 'download-info' });
      if (!allow(['GET']) || !authorized()) return;
      const entry = tokens.get(id);
      if (applyFault(req, res, takeFault('download-info', entry?.packageId))) return;
      const found = tokenPackage(res, id);
      if (found) send(res, 200, downloadInfo(id, found.stored, found.entry.expiresAt));
      return;
    }
    if (resource === 'downloads' && parts.length === 4 && sub === 'content') {
      Object.assign(record, { route: 'download' });
      // The token in the URL is the credential: download URLs work without Authorization.
      if (!allow(['GET', 'HEAD'])) return;
      await serveFile(req, res, id);
      return;
    }
    sendError(res, 404, 'route_not_found', `no route ${method} ${url.pathname}`);
  };

  const server = createServer((req, res) => {
    const index = requests.length;
    res.setHeader('x-request-id', `req_${index}`);
    const chunks: Buffer[] = [];
    const record: RegistryRequest & { status: number | undefined; body: unknown } = {
      index,
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      route: 'unknown',
      headers: req.headers,
      body: undefined,
      status: undefined,
    };
    requests.push(record);
    res.on('finish', () => {
      record.status = res.statusCode;
    });
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      if (text) {
        try {
          record.body = JSON.parse(text);
        } catch {
          sendError(res, 400, 'invalid_json', 'the request body is not JSON');
          return;
        }
      }
      handle(req, res, record).catch((error: unknown) => {
        if (!res.headersSent) sendError(res, 500, 'internal', error instanceof Error ? error.message : String(error));
        else res.destroy();
      });
    });
  });
  const listener = await listenLoopback(server, options);
  origin = listener.origin;

  const releaseDownloads = () => {
    holding = false;
    const pending = held;
    held = [];
    for (const resolve of pending) resolve();
  };
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      releaseDownloads();
      await listener.close();
      if (ownDir) await rm(dir, { recursive: true, force: true });
    })();
    return closing;
  };

  return {
    url: origin,
    baseURL: `${origin}/v1`,
    apiKey,
    baseModelPath,
    baseModelName: modelName,
    packages: [...packages.values()].map((p) => p.meta),
    requests,
    purchases,
    get activeDownloads() {
      return activeDownloads;
    },
    get maxActiveDownloads() {
      return maxActiveDownloads;
    },
    fail(fault) {
      faults.push({ ...fault, left: fault.times ?? 1 });
    },
    waitForActiveDownloads(count) {
      if (activeDownloads >= count) return Promise.resolve();
      return new Promise((resolve) => downloadWaiters.push({ count, resolve }));
    },
    releaseDownloads,
    close,
    [Symbol.asyncDispose]: close,
  };
}
