// The `vectors` resource: search, one download by token (`save(path)` through
// the `download` processor), and `batchLoad` (./batch-load.ts).

import { stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import {
  DownloadError,
  type DownloadRequest,
  DownloadRequestPart,
  DownloadResultPart,
  download,
  resolveInsideFolder,
} from '@sluice/processors';
import { type BatchLoadParams, batchLoad, type LoadResult } from './batch-load.ts';
import type { Client } from './client.ts';
import { MiB } from './files.ts';
import type { RegistryTransport } from './http.ts';
import { callSignal, type RequestOptions } from './marketplace.ts';
import { type DownloadInfo, DownloadInfoSchema, type VectorPackage, VectorPackageSchema } from './schemas.ts';
import { type SearchOptions, type SearchParams, type SearchResults, searchResults } from './search.ts';

/** A file saved by `save(path)`, verified. */
export interface SavedFile {
  readonly path: string;
  readonly sizeBytes: number;
  readonly sha256: string;
}

/** Options of `save`. */
export interface SaveOptions {
  /** Aborting stops the download and deletes the partial file; `save` rejects with `signal.reason`. */
  signal?: AbortSignal;
  /** Retries of transient failures, resuming with Range where the server allows; default 2 (the `download` processor's, HTTP_DEFAULTS.maxRetries). */
  retries?: number;
}

/** What `vectors.download(token)` resolves with: the file's facts, and `save` to fetch it. */
export interface PackageDownload extends DownloadInfo {
  /** `sizeBytes / 1048576` (mebibytes). */
  readonly sizeMb: number;
  /**
   * Downloads the file to `path` (a file path, or an existing folder / a path
   * ending in '/' to keep the registry's filename) with the `download`
   * processor: written to a sibling `.partial`, resumed with Range after a
   * dropped connection, size and sha256 checked, then renamed into place. A file
   * already there with the right sha256 costs no request. Rejects with
   * `DownloadError` when the file cannot be fetched or verified; nothing
   * unverified is ever left at `path`. Saving into a folder, the registry's
   * filename must name a file inside it (subfolders allowed) and must not reach
   * through a symbolic link leading out of it: otherwise `save` rejects with
   * `UnsafePathError` (code `E_UNSAFE_PATH`) before any request or write.
   */
  save(path: string, options?: SaveOptions): Promise<SavedFile>;
}

/** The `vectors` resource. */
export interface Vectors {
  /** Vector packages matching `params.query`, every page (see `SearchResults`). */
  search(params: SearchParams, options?: SearchOptions): SearchResults<VectorPackage>;
  /** The file a download token (from a purchase) gives access to. `NotFoundError` for an unknown token. */
  download(downloadToken: string, options?: RequestOptions): Promise<PackageDownload>;
  /** Buys and downloads many packages at once; see `BatchLoadParams`. */
  batchLoad(params: BatchLoadParams): Promise<LoadResult[]>;
}

/**
 * Where `save(path)` writes: `path` itself, or, for a folder (an existing one, or a path ending in '/'), the
 * registry's filename inside it, checked like the `download` processor checks names (UnsafePathError).
 */
async function targetOf(path: string, filename: string): Promise<{ outputDir: string; filename: string }> {
  const folder = path.endsWith('/') || (await stat(path).catch(() => undefined))?.isDirectory();
  if (!folder) return { outputDir: dirname(path), filename: basename(path) };
  await resolveInsideFolder(path, filename);
  return { outputDir: path, filename };
}

/** Saves one file with the `download` processor; rejects with DownloadError unless it was verified. */
export async function saveFile(info: DownloadInfo, path: string, options: SaveOptions & { closer: AbortSignal }) {
  const target = await targetOf(path, info.filename);
  const signal = callSignal(options.closer, options.signal);
  const downloader = download({ outputDir: target.outputDir, retries: options.retries, maxConcurrency: 1 });
  const request: DownloadRequest = {
    url: info.url,
    filename: target.filename,
    sha256: info.sha256,
    size: info.sizeBytes,
  };
  for await (const p of downloader(DownloadRequestPart.make(request), { signal })) {
    if (!DownloadResultPart.is(p)) continue;
    const result = DownloadResultPart.read(p);
    if (!result.success) {
      throw new DownloadError(`download of ${info.filename} (package ${info.packageId}) failed: ${result.error}`, {
        packageId: info.packageId,
        url: info.url,
      });
    }
    return { path: result.path, sizeBytes: result.sizeBytes, sha256: result.sha256 };
  }
  throw new DownloadError(`download of ${info.filename}: the download processor gave no result`, {
    packageId: info.packageId,
    url: info.url,
  });
}

export function vectors(client: Client, transport: RegistryTransport, closer: AbortSignal): Vectors {
  return {
    search(params, options = {}) {
      closer.throwIfAborted();
      return searchResults(transport, '/vectors', VectorPackageSchema, params, { ...options, closer });
    },
    async download(downloadToken, options = {}) {
      if (typeof downloadToken !== 'string' || downloadToken === '') {
        throw new TypeError(
          'vectors.download: the download token must be a non-empty string (from marketplace.purchase)',
        );
      }
      const info = await transport.json(DownloadInfoSchema, {
        method: 'GET',
        path: `/downloads/${encodeURIComponent(downloadToken)}`,
        signal: callSignal(closer, options.signal),
      });
      return {
        ...info,
        sizeMb: info.sizeBytes / MiB,
        save: (path, saveOptions = {}) => saveFile(info, path, { ...saveOptions, closer }),
      };
    },
    batchLoad(params) {
      return batchLoad(client, params, closer);
    },
  };
}
