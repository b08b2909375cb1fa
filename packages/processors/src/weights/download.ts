// `download`: verified, resumable file downloads over undici (WEIGHTS.md, "download").
// Bytes go to `<outputDir>/<filename>.<random>.partial` in batched positional
// writes while sha256 is computed; only a file whose size, hash and (for
// .safetensors) header check out is fsynced and renamed to its final path.

import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { type FileHandle, lstat, mkdir, open, realpath, rename, rm, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import {
  type ContentLike,
  type Context,
  isPart,
  jsonPart,
  type Part,
  type PartLike,
  type PartProcessor,
  type PartStream,
  partProcessor,
  type RunOptions,
} from '@sluice/core';
import { Agent, type Dispatcher, interceptors, request } from 'undici';
import { z } from 'zod';
import { sleep } from '../http/retry-policy.ts';
import { FormatError, UnsafePathError } from './errors.ts';
import { syncDir } from './files.ts';
import { jsonObjectOf, jsonTypeOf } from './json-parts.ts';
import { partialPath, readSafetensorsHeaderFrom } from './safetensors.ts';

/** A file to download; `sha256` and `size`, when given, are checked before the file is kept. */
export const DownloadRequestSchema = z.object({
  url: z.string(),
  filename: z.string().optional(),
  sha256: z.string().optional(),
  size: z.number().int().nonnegative().optional(),
});
/** A file to download (API.md section 3). */
export type DownloadRequest = z.infer<typeof DownloadRequestSchema>;

/** What became of one request; `success: false` comes with `error` and nothing at `path`. */
export const DownloadResultSchema = z.object({
  url: z.string(),
  filename: z.string(),
  path: z.string(),
  sizeBytes: z.number(),
  sha256: z.string(),
  success: z.boolean(),
  error: z.string().optional(),
});
/** What became of one request (API.md section 3). */
export type DownloadResult = z.infer<typeof DownloadResultSchema>;

/** Progress of one file, reported after each batch written (the processor throttles what it emits). */
export interface DownloadProgress {
  readonly url: string;
  readonly filename: string;
  readonly bytesDone: number;
  /** Expected size, when the request or the server said it. */
  readonly bytesTotal: number | undefined;
}

/** Why and when a request is retried (see `onRetry`). */
export interface RetryEvent {
  readonly url: string;
  /** 1 for the first retry since bytes last arrived. */
  readonly attempt: number;
  readonly delayMs: number;
  readonly reason: string;
  /** Bytes already in the partial file; the retry resumes from there when the server allows. */
  readonly bytesDone: number;
}

/** Options of `downloadFile` and of the `download` processor. */
export interface DownloadFileOptions {
  readonly outputDir: string;
  /** Retries after the first attempt, counted since bytes last arrived. Default 3. */
  readonly retries?: number;
  /** A request that receives no byte for this long is aborted and resumed. Default 30 000 ms. */
  readonly stallTimeoutMs?: number;
  /** First backoff delay; doubles per attempt, with jitter. Default 500 ms. */
  readonly retryDelayMs?: number;
  /** Longest backoff delay. Default 30 000 ms. */
  readonly maxRetryDelayMs?: number;
  /** Longest `Retry-After` honoured; a server asking for more fails the request. Default 120 000 ms. */
  readonly maxRetryAfterMs?: number;
  /** Bytes gathered before each write. Default 1 MiB (the minimum). */
  readonly writeBatchBytes?: number;
  /** An undici dispatcher to use instead of a fresh Agent per file (it is not closed). */
  readonly dispatcher?: Dispatcher;
  /** Called before each retry wait. */
  readonly onRetry?: (event: RetryEvent) => void;
}

/** Default number of retries of a download. */
export const DEFAULT_DOWNLOAD_RETRIES = 3;
/** Default stall timeout of a download. */
export const DEFAULT_STALL_TIMEOUT_MS = 30_000;
const MIN_BATCH = 1024 * 1024;
const MAX_REDIRECTIONS = 5;

/** A failure that ends one request (never retried); becomes `DownloadResult.error`. */
class DownloadFailure extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DownloadFailure';
  }
}

/** A failure worth retrying (network error, stall, retryable status). */
class TransientFailure extends Error {
  readonly retryAfterMs: number | undefined;
  constructor(message: string, options?: { cause?: unknown; retryAfterMs?: number }) {
    super(message, { cause: options?.cause });
    this.name = 'TransientFailure';
    this.retryAfterMs = options?.retryAfterMs;
  }
}

/** Status codes retried with backoff; others (400, 401, 403, 404, 410, ...) fail at once. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/**
 * The final path of `filename` inside `outputDir`, from the names alone (see `resolveInsideFolder` for the
 * disk check). Throws `UnsafePathError` (E_UNSAFE_PATH) when the name is empty, absolute, has control
 * characters or backslashes, names a folder, or would resolve outside `outputDir` (`../x`, `a/../../x`).
 */
export function resolveInside(outputDir: string, filename: string): string {
  const root = resolve(outputDir);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (filename === '' || /[\u0000-\u001f\u007f\\]/.test(filename) || isAbsolute(filename)) {
    throw new UnsafePathError(
      'not-relative',
      filename,
      outputDir,
      'not a plain relative file name (it is empty or absolute, or has a backslash or control character)',
    );
  }
  const target = resolve(root, filename);
  const rel = relative(root, target);
  if (rel.startsWith('..') || isAbsolute(rel)) {
    throw new UnsafePathError(
      'escapes',
      filename,
      outputDir,
      `it would escape the output folder ${outputDir}; name a file inside it (subfolders are fine)`,
    );
  }
  if (rel === '' || filename.endsWith('/')) {
    throw new UnsafePathError(
      'names-folder',
      filename,
      outputDir,
      'not a plain relative file name (it names a folder)',
    );
  }
  return target;
}

/**
 * `resolveInside`, then the disk: every part of the path that exists (subfolders, the file itself) is
 * looked at, and a symbolic link whose target is outside `outputDir` (or missing) is refused with
 * `UnsafePathError` (reason 'symlink'); links that stay inside are followed. `outputDir` itself may be
 * a link. This guards against links already in the folder, not against another process changing the
 * folder between this check and the write.
 */
export async function resolveInsideFolder(outputDir: string, filename: string): Promise<string> {
  const target = resolveInside(outputDir, filename);
  const root = resolve(outputDir);
  let realRoot: string;
  try {
    realRoot = await realpath(root);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return target;
    throw error;
  }
  const inside = (path: string) =>
    path === realRoot || path.startsWith(realRoot.endsWith(sep) ? realRoot : realRoot + sep);
  let path = root;
  for (const part of relative(root, target).split(sep)) {
    path = join(path, part);
    const info = await lstat(path).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return undefined;
      throw error;
    });
    if (!info) break;
    if (!info.isSymbolicLink()) continue;
    const real = await realpath(path).catch(() => undefined);
    if (real === undefined || !inside(real)) {
      throw new UnsafePathError(
        'symlink',
        filename,
        outputDir,
        `${path} is a symbolic link to ${real === undefined ? 'a missing target' : real}, outside the output folder ${outputDir}; links are not followed out of it`,
      );
    }
  }
  return target;
}

/** resolveInsideFolder, but a name taken from the URL may still be replaced by the server's: then no early failure. */
async function tryResolveInside(
  outputDir: string,
  filename: string,
  fromRequest: boolean,
): Promise<string | undefined> {
  try {
    return await resolveInsideFolder(outputDir, filename);
  } catch (error) {
    if (fromRequest || !(error instanceof UnsafePathError)) throw error;
    return undefined;
  }
}

/** The file name a `Content-Disposition` header gives (`filename*` preferred), or undefined. */
export function filenameFromContentDisposition(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const extended = /filename\*\s*=\s*([^;]+)/i.exec(header);
  if (extended) {
    const value = extended[1].trim().replace(/^"(.*)"$/, '$1');
    const match = /^([\w!#$%&+^`{}~.-]+)'[^']*'(.*)$/.exec(value);
    if (match) {
      try {
        return decodeURIComponent(match[2]);
      } catch {
        // fall through to the plain parameter
      }
    }
  }
  const plain = /filename\s*=\s*("((?:[^"\\]|\\.)*)"|[^;]+)/i.exec(header);
  if (!plain) return undefined;
  return plain[2] !== undefined ? plain[2].replace(/\\(.)/g, '$1') : plain[1].trim();
}

function filenameFromUrl(url: URL): string | undefined {
  const last = url.pathname.split('/').at(-1);
  if (!last) return undefined;
  try {
    return decodeURIComponent(last);
  } catch {
    return last;
  }
}

function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** `Retry-After` (seconds or an HTTP date) in ms, or undefined. */
function retryAfterMs(value: string | undefined): number | undefined {
  if (!value) return undefined;
  if (/^\s*\d+\s*$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/** The sha256 (hex) a response vouches for: `Repr-Digest`, `Digest`, `X-Linked-Etag` or a strong 64-hex ETag. */
function serverSha256(headers: Record<string, string | string[] | undefined>): string | undefined {
  const repr = header(headers, 'repr-digest');
  const fromRepr = repr && /sha-256=:([A-Za-z0-9+/=]+):/i.exec(repr);
  if (fromRepr) return Buffer.from(fromRepr[1], 'base64').toString('hex');
  const digest = header(headers, 'digest');
  const fromDigest = digest && /sha-256=([A-Za-z0-9+/=]+)/i.exec(digest);
  if (fromDigest) return Buffer.from(fromDigest[1], 'base64').toString('hex');
  for (const name of ['x-linked-etag', 'etag']) {
    const value = header(headers, name);
    const hex = value && /^"?([0-9a-f]{64})"?$/i.exec(value.trim());
    if (hex) return hex[1].toLowerCase();
  }
  return undefined;
}

/** A strong ETag (weak ones cannot guard a Range request), or undefined. */
function strongEtag(headers: Record<string, string | string[] | undefined>): string | undefined {
  const value = header(headers, 'etag');
  return value && !value.startsWith('W/') ? value : undefined;
}

async function sha256OfFile(path: string, signal: AbortSignal): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: MIN_BATCH, signal })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Sizes and hashes that an existing file must match to be kept without a request. */
async function isVerified(path: string, request: DownloadRequest, signal: AbortSignal): Promise<string | undefined> {
  if (!request.sha256) return undefined;
  const info = await stat(path).catch(() => undefined);
  if (!info?.isFile() || (request.size !== undefined && info.size !== request.size)) return undefined;
  const sha = await sha256OfFile(path, signal);
  return sha === request.sha256.toLowerCase() ? sha : undefined;
}

function failed(request: { url: string }, filename: string, path: string, error: unknown): DownloadResult {
  const message = error instanceof Error ? error.message : String(error);
  return { url: request.url, filename, path, sizeBytes: 0, sha256: '', success: false, error: message };
}

/**
 * Downloads one file into `options.outputDir` and verifies it (size, sha256 from the request or the server,
 * safetensors header), resuming with Range/If-Range after dropped connections and retrying transient failures.
 * Resolves with a DownloadResult, `success: false` for any failure; rejects only when `signal` aborts (with its
 * reason), after deleting the partial file. A file already at the path with the requested sha256 costs no request.
 */
export async function downloadFile(
  request: DownloadRequest,
  options: DownloadFileOptions,
  outer: AbortSignal = new AbortController().signal,
  onProgress?: (progress: DownloadProgress) => void,
): Promise<DownloadResult> {
  // The file's own signal: one listener on the caller's signal per file, whatever the file adds to its own
  // (each attempt, the retry sleeps, the partial file's removal), so many files in flight on one signal
  // stay far below Node's MaxListenersExceededWarning.
  const controller = new AbortController();
  const forward = () => controller.abort(outer.reason);
  if (outer.aborted) forward();
  else outer.addEventListener('abort', forward, { once: true });
  try {
    return await downloadOne(request, options, controller.signal, onProgress);
  } finally {
    outer.removeEventListener('abort', forward);
  }
}

async function downloadOne(
  request: DownloadRequest,
  options: DownloadFileOptions,
  signal: AbortSignal,
  onProgress: ((progress: DownloadProgress) => void) | undefined,
): Promise<DownloadResult> {
  // A refused or failed request keeps the name it asked for, so its result says which file it was.
  let filename = typeof request?.filename === 'string' ? request.filename : '';
  let path = '';
  try {
    const parsed = DownloadRequestSchema.safeParse(request);
    if (!parsed.success) throw new DownloadFailure(`invalid download request: ${parsed.error.message}`);
    let url: URL;
    try {
      url = new URL(request.url);
    } catch {
      throw new DownloadFailure(`invalid URL ${JSON.stringify(request.url)}`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new DownloadFailure(`unsupported URL scheme ${url.protocol}`);
    if (request.sha256 !== undefined && !/^[0-9a-f]{64}$/i.test(request.sha256)) {
      throw new DownloadFailure(`sha256 ${JSON.stringify(request.sha256)} is not 64 hex digits`);
    }
    // Where the file will be, if known before asking the server: a verified file there costs no request.
    const early = request.filename ?? filenameFromUrl(url);
    const earlyPath =
      early === undefined
        ? undefined
        : await tryResolveInside(options.outputDir, early, request.filename !== undefined);
    if (early !== undefined && earlyPath !== undefined) {
      filename = early;
      path = earlyPath;
      const sha = await isVerified(path, request, signal);
      if (sha) {
        const { size } = await stat(path);
        return { url: request.url, filename, path, sizeBytes: size, sha256: sha, success: true };
      }
    }
    return await transfer(url, request, options, signal, onProgress, (name, target) => {
      filename = name;
      path = target;
    });
  } catch (error) {
    if (signal.aborted) throw signal.reason;
    return failed(request, filename, path, error);
  }
}

interface Partial {
  readonly path: string;
  readonly handle: FileHandle;
}

/** The request loop of one file: attempts, resume, restart, verification, rename. */
async function transfer(
  url: URL,
  req: DownloadRequest,
  options: DownloadFileOptions,
  signal: AbortSignal,
  onProgress: ((progress: DownloadProgress) => void) | undefined,
  named: (filename: string, path: string) => void,
): Promise<DownloadResult> {
  const retries = options.retries ?? DEFAULT_DOWNLOAD_RETRIES;
  const stallMs = options.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS;
  const batchBytes = Math.max(MIN_BATCH, options.writeBatchBytes ?? MIN_BATCH);
  const agent = options.dispatcher ? undefined : new Agent();
  const dispatcher = options.dispatcher ?? agent!.compose(interceptors.redirect({ maxRedirections: MAX_REDIRECTIONS }));
  let filename = req.filename;
  let target: string | undefined;
  let partial: Partial | undefined;
  let hash: Hash = createHash('sha256');
  let received = 0;
  let total = req.size;
  let etag: string | undefined;
  let lastModified: string | undefined;
  let vouched: string | undefined;
  let attempt = 0;
  let pendingWrite: Promise<void> | undefined;
  // Deleting at once on abort (not only in `finally`) means no partial outlives the abort, whatever awaits it.
  const removeNow = () => {
    if (partial) void rm(partial.path, { force: true }).catch(() => {});
  };
  signal.addEventListener('abort', removeNow, { once: true });

  const restart = async () => {
    await pendingWrite;
    pendingWrite = undefined;
    received = 0;
    hash = createHash('sha256');
    etag = undefined;
    lastModified = undefined;
    vouched = undefined;
    total = req.size;
    if (partial) await partial.handle.truncate(0);
  };
  const progress = () =>
    onProgress?.({ url: req.url, filename: filename ?? '', bytesDone: received, bytesTotal: total });

  try {
    for (;;) {
      signal.throwIfAborted();
      const controller = new AbortController();
      const onAbort = () => controller.abort(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      const stall = setTimeout(() => controller.abort(new TransientFailure(`no data for ${stallMs} ms`)), stallMs);
      let gotBytes = false;
      let waitMs = 0;
      try {
        const headers: Record<string, string> = { 'accept-encoding': 'identity' };
        if (received > 0) {
          headers.range = `bytes=${received}-`;
          const validator = etag ?? lastModified;
          if (validator) headers['if-range'] = validator;
        }
        let response: Dispatcher.ResponseData;
        try {
          response = await request(url, { dispatcher, headers, signal: controller.signal });
        } catch (error) {
          throw asTransient(error, controller.signal);
        }
        const { statusCode, headers: h, body } = response;
        stall.refresh();
        if (statusCode === 416) {
          await body.dump().catch(() => {});
          const complete = /bytes \*\/(\d+)/.exec(header(h, 'content-range') ?? '');
          const size = complete ? Number(complete[1]) : total;
          if (received > 0 && size === received) break;
          await restart();
          throw new TransientFailure('server refused the range (416)');
        }
        if (statusCode !== 200 && statusCode !== 206) {
          await body.dump().catch(() => {});
          if (isRetryableStatus(statusCode)) {
            throw new TransientFailure(`HTTP ${statusCode}`, { retryAfterMs: retryAfterMs(header(h, 'retry-after')) });
          }
          throw new DownloadFailure(`HTTP ${statusCode} for ${req.url}`);
        }
        if (statusCode === 206) {
          const range = /bytes (\d+)-(\d+)\/(\d+|\*)/.exec(header(h, 'content-range') ?? '');
          const sameEntity = !etag || strongEtag(h) === etag;
          if (!range || Number(range[1]) !== received || !sameEntity) {
            // Never splice two versions of a file: drop what we have and ask for all of it.
            await body.dump().catch(() => {});
            await restart();
            throw new TransientFailure(sameEntity ? 'unexpected Content-Range' : 'the file changed on the server');
          }
          if (range[3] !== '*') total = checkTotal(Number(range[3]), req.size);
        } else {
          if (received > 0) await restart();
          const length = header(h, 'content-length');
          if (length !== undefined) total = checkTotal(Number(length), req.size);
          etag = strongEtag(h);
          lastModified = header(h, 'last-modified');
          vouched = serverSha256(h);
        }
        if (!partial) {
          filename ??= filenameFromContentDisposition(header(h, 'content-disposition')) ?? filenameFromUrl(url);
          if (!filename) throw new DownloadFailure(`no file name in the request, the response or the URL ${req.url}`);
          target = await resolveInsideFolder(options.outputDir, filename);
          named(filename, target);
          await mkdir(dirname(target), { recursive: true });
          const path = partialPath(target);
          partial = { path, handle: await open(path, 'w+') };
          signal.throwIfAborted();
        }
        const file = partial;
        let batch: Buffer[] = [];
        let batched = 0;
        const flush = async () => {
          const chunks = batch;
          const position = received - batched;
          batch = [];
          batched = 0;
          await pendingWrite;
          pendingWrite = writeAll(file.handle, chunks, position);
          pendingWrite.catch(() => {});
          progress();
        };
        try {
          for await (const chunk of body as AsyncIterable<Buffer>) {
            stall.refresh();
            hash.update(chunk);
            batch.push(chunk);
            batched += chunk.length;
            received += chunk.length;
            if (!gotBytes) {
              gotBytes = true;
              attempt = 0;
            }
            if (batched >= batchBytes) {
              await flush();
              stall.refresh();
            }
          }
        } catch (error) {
          if (batched > 0) await flush();
          throw asTransient(error, controller.signal);
        }
        if (batched > 0) await flush();
        await pendingWrite;
        if (total !== undefined && received < total)
          throw new TransientFailure(`connection closed at ${received} of ${total} bytes`);
        break;
      } catch (error) {
        if (signal.aborted) throw signal.reason;
        if (!(error instanceof TransientFailure)) throw error;
        attempt++;
        if (attempt > retries) {
          throw new DownloadFailure(
            `${error.message}; gave up after ${retries} ${retries === 1 ? 'retry' : 'retries'}`,
            { cause: error },
          );
        }
        const maxAfter = options.maxRetryAfterMs ?? 120_000;
        if (error.retryAfterMs !== undefined && error.retryAfterMs > maxAfter) {
          throw new DownloadFailure(
            `${error.message}: server asks to retry after ${error.retryAfterMs} ms, more than ${maxAfter} ms`,
          );
        }
        waitMs = error.retryAfterMs ?? backoff(attempt, options);
        options.onRetry?.({ url: req.url, attempt, delayMs: waitMs, reason: error.message, bytesDone: received });
      } finally {
        clearTimeout(stall);
        signal.removeEventListener('abort', onAbort);
      }
      await sleep(waitMs, signal);
    }
    await pendingWrite;
    const file = partial;
    if (!file || !target || !filename) throw new DownloadFailure('server sent no file');
    const sha256 = hash.digest('hex');
    if (req.size !== undefined && received !== req.size) {
      throw new DownloadFailure(`size mismatch: expected ${req.size} bytes, got ${received}`);
    }
    if (total !== undefined && received !== total)
      throw new DownloadFailure(`size mismatch: expected ${total} bytes, got ${received}`);
    const expected = req.sha256?.toLowerCase() ?? vouched;
    if (expected && expected !== sha256)
      throw new DownloadFailure(`sha256 mismatch: expected ${expected}, got ${sha256}`);
    if (filename.endsWith('.safetensors')) {
      try {
        await readSafetensorsHeaderFrom(file.handle, received, filename);
      } catch (error) {
        if (error instanceof FormatError)
          throw new DownloadFailure(`not a valid safetensors file: ${error.message}`, { cause: error });
        throw error;
      }
    }
    await file.handle.sync();
    await file.handle.close();
    signal.throwIfAborted();
    await rename(file.path, target);
    partial = undefined;
    await syncDir(dirname(target));
    return { url: req.url, filename, path: target, sizeBytes: received, sha256, success: true };
  } finally {
    signal.removeEventListener('abort', removeNow);
    await pendingWrite?.catch(() => {});
    if (partial) {
      await partial.handle.close().catch(() => {});
      await rm(partial.path, { force: true });
    }
    await agent?.destroy().catch(() => {});
  }
}

function checkTotal(total: number, size: number | undefined): number {
  if (size !== undefined && total !== size) {
    throw new DownloadFailure(`size mismatch: the request says ${size} bytes, the server ${total}`);
  }
  return total;
}

function asTransient(error: unknown, signal: AbortSignal): unknown {
  if (signal.aborted && signal.reason instanceof TransientFailure) return signal.reason;
  if (error instanceof DownloadFailure || error instanceof TransientFailure) return error;
  const code = (error as { code?: unknown })?.code;
  if (
    typeof code === 'string' &&
    /^(UND_ERR|ECONN|EPIPE|ETIMEDOUT|EAI_AGAIN|ENETUNREACH|EHOSTUNREACH|ENOTFOUND)/.test(code)
  ) {
    return new TransientFailure(`${(error as Error).message} (${code})`, { cause: error });
  }
  return error;
}

function backoff(attempt: number, options: DownloadFileOptions): number {
  const base = options.retryDelayMs ?? 500;
  const max = options.maxRetryDelayMs ?? 30_000;
  const delay = Math.min(max, base * 2 ** (attempt - 1));
  return Math.round(delay / 2 + (Math.random() * delay) / 2);
}

async function writeAll(handle: FileHandle, chunks: Buffer[], position: number): Promise<void> {
  let offset = position;
  let list = chunks;
  while (list.length > 0) {
    let { bytesWritten } = await handle.writev(list, offset);
    offset += bytesWritten;
    const rest: Buffer[] = [];
    for (const chunk of list) {
      if (bytesWritten >= chunk.length) bytesWritten -= chunk.length;
      else {
        rest.push(chunk.subarray(bytesWritten));
        bytesWritten = 0;
      }
    }
    list = rest;
  }
}

/** Options of the `download` processor (API.md section 3), plus those of `downloadFile`. */
export interface DownloadOptions extends DownloadFileOptions {
  /** Files downloaded at once by this processor (a server sees no more connections from it). Default 4. */
  readonly maxConcurrency?: number;
  /** Least time between two progress status parts of a run. Default 250 ms. */
  readonly progressIntervalMs?: number;
}

/** Default `maxConcurrency` of `download`. */
export const DEFAULT_DOWNLOAD_CONCURRENCY = 4;

/** Progress metadata of the status parts `download` emits. */
export interface DownloadProgressMetadata {
  readonly type: 'DownloadProgress';
  readonly bytesDone: number;
  /** Sum of the known sizes; files of unknown size count only their bytes done. */
  readonly bytesTotal: number;
  /** Requests finished so far (successfully or not; duplicates count each). */
  readonly filesCompleted: number;
  /**
   * Requests received so far (duplicates count each): the run's total once `filesTotalFinal` is true,
   * until then a lower bound, as the input may bring more (the text then says `3/4+ files`).
   */
  readonly filesTotal: number;
  /** True once the whole input was read, so `filesTotal` no longer grows. */
  readonly filesTotalFinal: boolean;
  /** Set on the status part that reports one file's end. */
  readonly result?: DownloadResult;
}

/** True for the parts `download` takes: a JSON part (no type, or type=DownloadRequest) with a string `url`. */
export function isDownloadRequest(part: Part): boolean {
  const type = jsonTypeOf(part.mimetype);
  if (type !== '' && type !== 'DownloadRequest') return false;
  return typeof jsonObjectOf(part)?.url === 'string';
}

interface RunState {
  readonly results: Map<string, Promise<DownloadResult>>;
  readonly bytes: Map<string, { done: number; total: number | undefined }>;
  filesTotal: number;
  filesCompleted: number;
  /** The input was read to its end: `filesTotal` is final. */
  inputEnded: boolean;
  lastEmit: number;
}

function newRunState(): RunState {
  return { results: new Map(), bytes: new Map(), filesTotal: 0, filesCompleted: 0, inputEnded: false, lastEmit: 0 };
}

/**
 * A FIFO counting semaphore: `run(fn, signal)` waits for a slot (or rejects with `signal.reason` on
 * abort), runs fn, frees the slot. Any number of waiters of one signal share one abort listener.
 */
function limiter(max: number) {
  let active = 0;
  const waiting: { signal: AbortSignal; ready: () => void; fail: (reason: unknown) => void }[] = [];
  const watched = new WeakSet<AbortSignal>();
  const watch = (signal: AbortSignal) => {
    if (watched.has(signal)) return;
    watched.add(signal);
    signal.addEventListener(
      'abort',
      () => {
        for (let i = waiting.length - 1; i >= 0; i--) {
          if (waiting[i].signal === signal) waiting.splice(i, 1)[0].fail(signal.reason);
        }
      },
      { once: true },
    );
  };
  return async <T>(fn: () => Promise<T>, signal: AbortSignal): Promise<T> => {
    if (active >= max) {
      signal.throwIfAborted();
      watch(signal);
      await new Promise<void>((ready, fail) => waiting.push({ signal, ready, fail }));
    } else active++;
    try {
      return await fn();
    } finally {
      const next = waiting.shift();
      if (next) next.ready();
      else active--;
    }
  };
}

/**
 * `input` unchanged for its reader, except that `onEnd` runs once it was read to its end (at once
 * for no input or a single part). Anything else is passed on as it is, for the run to refuse.
 */
function observeEnd(input: ContentLike | undefined, onEnd: () => void): ContentLike | undefined {
  if (input === undefined || typeof input === 'string' || input instanceof Uint8Array || isPart(input)) {
    onEnd();
    return input;
  }
  let source: AsyncIterable<PartLike>;
  if (typeof (input as AsyncIterable<PartLike>)[Symbol.asyncIterator] === 'function') {
    source = input as AsyncIterable<PartLike>;
  } else if (typeof (input as Iterable<PartLike>)[Symbol.iterator] === 'function') {
    source = (async function* () {
      yield* input as Iterable<PartLike>;
    })();
  } else return input;
  return {
    [Symbol.asyncIterator](): AsyncIterator<PartLike> {
      const iterator = source[Symbol.asyncIterator]();
      // Plain forwarding, not a generator: the reader's return() must reach `iterator` at once.
      return {
        next: async () => {
          const result = await iterator.next();
          if (result.done) onEnd();
          return result;
        },
        return: async () => {
          await iterator.return?.();
          return { done: true, value: undefined };
        },
      };
    },
  };
}

const MiB = 1024 * 1024;
const mib = (bytes: number) => (bytes / MiB).toFixed(1);

/**
 * A part processor turning DownloadRequest parts into verified files in `outputDir`, emitting throttled progress
 * status parts and one `jsonPart(result, { type: 'DownloadResult' })` per request, in input order. At most
 * `maxConcurrency` files download at once; duplicate requests in a run share one download; a failed request
 * yields `success: false` and never stops the batch. Stopping the run (signal, break, error) aborts every request,
 * deletes the partial files and closes the sockets. Options are checked at once (RangeError/TypeError).
 * Progress counts requests as they arrive; called directly, `download(...)(input)` also sees its input end and
 * then reports the final total, while inside a chain (`pipe`, `chain`, ...) a part processor never learns that,
 * so its totals stay marked as lower bounds (`filesTotalFinal: false`).
 */
export function download(options: DownloadOptions): PartProcessor {
  if (typeof options?.outputDir !== 'string' || options.outputDir === '')
    throw new TypeError('download: outputDir must be a path');
  const maxConcurrency = options.maxConcurrency ?? DEFAULT_DOWNLOAD_CONCURRENCY;
  if (!Number.isSafeInteger(maxConcurrency) || maxConcurrency < 1) {
    throw new RangeError(`download: maxConcurrency must be an integer >= 1, got ${options.maxConcurrency}`);
  }
  if (options.retries !== undefined && (!Number.isSafeInteger(options.retries) || options.retries < 0)) {
    throw new RangeError(`download: retries must be an integer >= 0, got ${options.retries}`);
  }
  const interval = options.progressIntervalMs ?? 250;
  // One limit for every run of this processor: a server never sees more than maxConcurrency requests from it.
  const slot = limiter(maxConcurrency);

  const emit = (ctx: Context, state: RunState, text: string, result?: DownloadResult) => {
    let bytesDone = 0;
    let bytesTotal = 0;
    for (const b of state.bytes.values()) {
      bytesDone += b.done;
      bytesTotal += b.total ?? b.done;
    }
    const metadata: DownloadProgressMetadata = {
      type: 'DownloadProgress',
      bytesDone,
      bytesTotal,
      filesCompleted: state.filesCompleted,
      filesTotal: state.filesTotal,
      filesTotalFinal: state.inputEnded,
      ...(result ? { result } : {}),
    };
    const files = `${state.filesCompleted}/${state.filesTotal}${state.inputEnded ? '' : '+'} files`;
    ctx.status(`${text} (${files}, ${mib(bytesDone)}/${mib(bytesTotal)} MiB)`, { metadata: { ...metadata } });
  };

  /** The part processor, keeping each run's counts and shared downloads in `stateOf(ctx)`. */
  const downloader = (stateOf: (ctx: Context) => RunState): PartProcessor =>
    partProcessor(
      // An async generator (not a bare promise) so that stopping the run waits for the partial file's removal.
      async function* downloadOne(part: Part, ctx: Context) {
        const state = stateOf(ctx);
        const request = (jsonObjectOf(part) ?? {}) as DownloadRequest;
        const key = JSON.stringify([
          request.url,
          request.filename ?? null,
          request.sha256?.toLowerCase() ?? null,
          request.size ?? null,
        ]);
        state.filesTotal++;
        let shared = state.results.get(key);
        if (!shared) {
          const onProgress = (p: DownloadProgress) => {
            state.bytes.set(key, { done: p.bytesDone, total: p.bytesTotal });
            const now = performance.now();
            if (now - state.lastEmit >= interval) {
              state.lastEmit = now;
              emit(ctx, state, `downloading ${p.filename}`);
            }
          };
          shared = slot(() => downloadFile(request, options, ctx.signal, onProgress), ctx.signal);
          shared.catch(() => {});
          state.results.set(key, shared);
        }
        const result = await shared;
        state.filesCompleted++;
        if (result.success) state.bytes.set(key, { done: result.sizeBytes, total: result.sizeBytes });
        emit(
          ctx,
          state,
          result.success ? `downloaded ${result.filename}` : `failed ${result.filename || result.url}: ${result.error}`,
          result,
        );
        yield jsonPart(result, { type: 'DownloadResult' });
      },
      // Every request is taken as soon as it is read (so it is counted), and waits for its slot here;
      // the slots, not this, bound the downloads.
      { name: 'download', match: isDownloadRequest, concurrency: Number.POSITIVE_INFINITY },
    );

  // In a chain this processor's stages are what `chain` fuses: one state per run (context), and the
  // input's end is never seen. A direct call runs a processor of its own over its observed input.
  const runs = new WeakMap<Context, RunState>();
  const inChain = downloader((ctx) => {
    let state = runs.get(ctx);
    if (!state) runs.set(ctx, (state = newRunState()));
    return state;
  });
  const call = (input?: ContentLike, runOptions?: RunOptions): PartStream => {
    const state = newRunState();
    const ended = () => {
      state.inputEnded = true;
    };
    return downloader(() => state)(observeEnd(input, ended), runOptions);
  };
  // Otherwise `call` is `inChain`: its name, match, pipe and the stages `chain` reads are copied over.
  for (const key of Reflect.ownKeys(inChain)) {
    if (key !== 'length') Object.defineProperty(call, key, Object.getOwnPropertyDescriptor(inChain, key)!);
  }
  return call as unknown as PartProcessor;
}
