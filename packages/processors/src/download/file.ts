// `downloadFile`: one verified file. Bytes come from the HTTP layer's resumable reader (Range,
// If-Range, retries, stalls) and go to `<outputDir>/<filename>.<random>.partial` in batched
// positional writes while sha256 is computed; only a file whose size, hash and (for .safetensors)
// header check out is fsynced and renamed to its final path.

import { createHash, type Hash } from 'node:crypto';
import { type FileHandle, mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { syncDir } from '../files.ts';
import { APIError } from '../http/errors.ts';
import { type ResumableRetry, readResumable } from '../http/range.ts';
import type { Dispatcher } from '../http/transport.ts';
import { FormatError } from '../safetensors/errors.ts';
import { partialPath, readSafetensorsHeaderFrom } from '../safetensors/index.ts';
import { DownloadError, UnsafePathError } from './errors.ts';
import { filenameFromContentDisposition, filenameFromUrl, resolveInsideFolder } from './names.ts';
import { type DownloadRequest, DownloadRequestSchema, type DownloadResult } from './schemas.ts';
import { serverSha256, verifiedSha256 } from './verify.ts';

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

/** Options of `downloadFile` and of the `download` processor; each default is in HTTP_DEFAULTS. */
export interface DownloadFileOptions {
  readonly outputDir: string;
  /** Retries after a failure, counted since bytes last arrived. Default 2 (HTTP_DEFAULTS.maxRetries). */
  readonly retries?: number;
  /** A request that receives no byte for this long is aborted and resumed. Default 30 000 ms. */
  readonly stallTimeoutMs?: number;
  /** First backoff delay; doubles per attempt, with jitter. Default 500 ms. */
  readonly retryDelayMs?: number;
  /** Longest backoff delay. Default 8 000 ms. */
  readonly maxRetryDelayMs?: number;
  /** A server asking (`Retry-After`) to wait longer than this fails the request at once. Default 120 000 ms. */
  readonly failRetryAfterAboveMs?: number;
  /** Bytes gathered before each write. Default 1 MiB (the minimum). */
  readonly writeBatchBytes?: number;
  /** An undici dispatcher to use instead of a fresh Agent per file (it is not closed). */
  readonly dispatcher?: Dispatcher;
  /** Called before each retry wait. */
  readonly onRetry?: (event: RetryEvent) => void;
}

const MIN_BATCH = 1024 * 1024;

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
  // (the reader's requests and sleeps, the partial file's removal), so many files in flight on one signal
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
    if (!parsed.success) throw new DownloadError(`invalid download request: ${parsed.error.message}`);
    let url: URL;
    try {
      url = new URL(request.url);
    } catch {
      throw new DownloadError(`invalid URL ${JSON.stringify(request.url)}`, { url: String(request.url) });
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new DownloadError(`unsupported URL scheme ${url.protocol}`, { url: request.url });
    if (request.sha256 !== undefined && !/^[0-9a-f]{64}$/i.test(request.sha256)) {
      throw new DownloadError(`sha256 ${JSON.stringify(request.sha256)} is not 64 hex digits`, { url: request.url });
    }
    // Where the file will be, if known before asking the server: a verified file there costs no request.
    // A name taken from the URL may still be replaced by the server's, so only the request's name fails early.
    const early = request.filename ?? filenameFromUrl(url);
    let earlyPath: string | undefined;
    if (early !== undefined) {
      try {
        earlyPath = await resolveInsideFolder(options.outputDir, early);
      } catch (error) {
        if (request.filename !== undefined || !(error instanceof UnsafePathError)) throw error;
      }
    }
    if (early !== undefined && earlyPath !== undefined) {
      filename = early;
      path = earlyPath;
      const sha = await verifiedSha256(path, request, signal);
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

interface PartialFile {
  readonly path: string;
  readonly handle: FileHandle;
}

/** Reads the entity into a partial file, verifies it and renames it into place. */
async function transfer(
  url: URL,
  req: DownloadRequest,
  options: DownloadFileOptions,
  signal: AbortSignal,
  onProgress: ((progress: DownloadProgress) => void) | undefined,
  named: (filename: string, path: string) => void,
): Promise<DownloadResult> {
  const batchBytes = Math.max(MIN_BATCH, options.writeBatchBytes ?? MIN_BATCH);
  let filename = req.filename;
  let target: string | undefined;
  let partial: PartialFile | undefined;
  let hash: Hash = createHash('sha256');
  let received = 0;
  let total = req.size;
  let vouched: string | undefined;
  let pendingWrite: Promise<void> | undefined;
  let batch: Uint8Array[] = [];
  let batched = 0;
  // Deleting at once on abort (not only in `finally`) means no partial outlives the abort, whatever awaits it.
  const removeNow = () => {
    if (partial) void rm(partial.path, { force: true }).catch(() => {});
  };
  signal.addEventListener('abort', removeNow, { once: true });
  const progress = () =>
    onProgress?.({ url: req.url, filename: filename ?? '', bytesDone: received, bytesTotal: total });
  const flush = async () => {
    if (batched === 0 || !partial) return;
    const file = partial;
    const chunks = batch;
    const position = received - batched;
    batch = [];
    batched = 0;
    await pendingWrite;
    pendingWrite = writeAll(file.handle, chunks, position);
    pendingWrite.catch(() => {});
    progress();
  };
  const checkTotal = (size: number | undefined) => {
    if (size === undefined) return total;
    if (req.size !== undefined && size !== req.size) {
      throw new DownloadError(`size mismatch: the request says ${req.size} bytes, the server ${size}`, {
        url: req.url,
      });
    }
    return size;
  };

  try {
    const reader = readResumable(url, {
      signal,
      maxRetries: options.retries,
      stallTimeoutMs: options.stallTimeoutMs,
      initialRetryDelayMs: options.retryDelayMs,
      maxRetryDelayMs: options.maxRetryDelayMs,
      failRetryAfterAboveMs: options.failRetryAfterAboveMs,
      dispatcher: options.dispatcher,
      onRetry: (retry: ResumableRetry) => {
        options.onRetry?.({
          url: req.url,
          attempt: retry.attempt,
          delayMs: retry.delayMs,
          reason: retry.reason,
          bytesDone: retry.bytesDone,
        });
      },
    });
    try {
      for await (const event of reader) {
        if (event.type === 'data') {
          hash.update(event.chunk);
          batch.push(event.chunk);
          batched += event.chunk.byteLength;
          received += event.chunk.byteLength;
          if (batched >= batchBytes) await flush();
          continue;
        }
        // A response: the first, a resumed one (206), or the whole entity again (restart).
        await flush();
        if (event.restart || event.status === 200) {
          await pendingWrite;
          pendingWrite = undefined;
          received = 0;
          hash = createHash('sha256');
          if (partial) await partial.handle.truncate(0);
          vouched = serverSha256(event.headers);
        }
        total = checkTotal(event.total);
        if (!partial) {
          filename ??= filenameFromContentDisposition(event.headers['content-disposition']) ?? filenameFromUrl(url);
          if (!filename) {
            throw new DownloadError(`no file name in the request, the response or the URL ${req.url}`, {
              url: req.url,
              hint: 'pass filename in the request',
            });
          }
          target = await resolveInsideFolder(options.outputDir, filename);
          named(filename, target);
          await mkdir(dirname(target), { recursive: true });
          const path = partialPath(target);
          partial = { path, handle: await open(path, 'w+') };
          signal.throwIfAborted();
        }
      }
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      if (error instanceof APIError)
        throw new DownloadError(error.message, { url: req.url, cause: error, hint: error.hint });
      throw error;
    }
    await flush();
    await pendingWrite;
    const file = partial;
    if (!file || !target || !filename) throw new DownloadError('the server sent no file', { url: req.url });
    const sha256 = hash.digest('hex');
    if (req.size !== undefined && received !== req.size) {
      throw new DownloadError(`size mismatch: expected ${req.size} bytes, got ${received}`, { url: req.url });
    }
    if (total !== undefined && received !== total) {
      throw new DownloadError(`size mismatch: expected ${total} bytes, got ${received}`, { url: req.url });
    }
    const expected = req.sha256?.toLowerCase() ?? vouched;
    if (expected && expected !== sha256) {
      throw new DownloadError(`sha256 mismatch: expected ${expected}, got ${sha256}`, { url: req.url });
    }
    if (filename.endsWith('.safetensors')) {
      try {
        await readSafetensorsHeaderFrom(file.handle, received, filename);
      } catch (error) {
        if (error instanceof FormatError) {
          throw new DownloadError(`not a valid safetensors file: ${error.message}`, { url: req.url, cause: error });
        }
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
  }
}

async function writeAll(handle: FileHandle, chunks: Uint8Array[], position: number): Promise<void> {
  let offset = position;
  let list = chunks;
  while (list.length > 0) {
    let { bytesWritten } = await handle.writev(list, offset);
    offset += bytesWritten;
    const rest: Uint8Array[] = [];
    for (const chunk of list) {
      if (bytesWritten >= chunk.byteLength) bytesWritten -= chunk.byteLength;
      else {
        rest.push(chunk.subarray(bytesWritten));
        bytesWritten = 0;
      }
    }
    list = rest;
  }
}
