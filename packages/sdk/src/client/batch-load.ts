// `vectors.batchLoad`: buy and download many packages, built as one pipeline
// run of `purchasePackages` -> `download`. The download processor bounds the
// files in flight and keeps results in input order; its per-file status parts
// (and purchasePackages' for a package already on disk or not bought) tell
// which package finished, so `onLoaded` fires in completion order.

import { type Part, readJSON } from '@sluice/core';
import { type DownloadResult, DownloadResultPart, DownloadResultSchema, download } from '@sluice/processors';
import type { Client } from './client.ts';
import { MiB } from './files.ts';
import { callSignal } from './marketplace.ts';
import { PackageRefPart, purchasePackages } from './processors.ts';

/** Default `maxConcurrency` of `batchLoad`. */
export const DEFAULT_BATCH_CONCURRENCY = 4;

/** Parameters of `vectors.batchLoad`. */
export interface BatchLoadParams {
  packageIds: readonly string[];
  /** Where the files go, under the registry's file names. Created if missing. */
  outputDir: string;
  /** Files downloading at once (the registry sees no more), and purchases at once; default 4. */
  maxConcurrency?: number;
  /** Retries of each download (transient failures, resumed with Range); default 2 (HTTP_DEFAULTS.maxRetries). */
  retries?: number;
  /** Called after each package finished (success or not); `completed` counts input entries. */
  onProgress?: (progress: { completed: number; total: number }) => void;
  /** Called with each package's result as soon as it finished, in completion order. */
  onLoaded?: (result: LoadResult) => void;
  /** Aborting stops every purchase and download and deletes partial files; batchLoad then rejects with `signal.reason`. */
  signal?: AbortSignal;
}

/** What became of one package. `success: false` comes with `error` and no file. */
export interface LoadResult {
  packageId: string;
  success: boolean;
  filename?: string;
  /** Where the verified file is. */
  path?: string;
  sizeBytes?: number;
  /** `sizeBytes / 1048576`. */
  sizeMb?: number;
  sha256?: string;
  /** True when the file was already in `outputDir`, verified, and nothing was bought or downloaded. */
  cached?: boolean;
  /** Why it failed: the registry's error (unknown package, auth, ...) or the download's (bad status, sha256 mismatch, ...). */
  error?: string;
  /**
   * The Sluice code of the failure when the error that caused it has one: a registry error's
   * (`E_AUTH`, `E_NOT_FOUND`, `E_RATE_LIMIT`, ...; the registry's own code is in `error`), or
   * `E_UNSAFE_PATH` when the registry's filename would land outside `outputDir`. Absent for
   * download failures, which `error` describes.
   */
  code?: string;
}

function loadResult(packageId: string, result: DownloadResult, cached: boolean, code?: unknown): LoadResult {
  if (!result.success) {
    const failed: LoadResult = { packageId, success: false, error: result.error ?? 'download failed' };
    if (typeof code === 'string' && /^E_[A-Z0-9_]+$/.test(code)) failed.code = code;
    return failed;
  }
  const out: LoadResult = {
    packageId,
    success: true,
    filename: result.filename,
    path: result.path,
    sizeBytes: result.sizeBytes,
    sizeMb: result.sizeBytes / MiB,
    sha256: result.sha256,
  };
  if (cached) out.cached = true;
  return out;
}

const isResultPart = (p: Part) => DownloadResultPart.is(p);

/**
 * Buys and downloads `packageIds` into `outputDir`: resolves with one
 * LoadResult per input entry, in input order (a repeated id is bought once
 * and shares its result). At most `maxConcurrency` files download at once.
 * One package failing never rejects; its result says why. A package already
 * in `outputDir` with the registry's sha256 is neither bought nor downloaded.
 * Rejects only on abort (`signal.reason`, after partial files were deleted)
 * or when a callback throws (the batch is stopped the same way).
 */
export async function batchLoad(client: Client, params: BatchLoadParams, closer: AbortSignal): Promise<LoadResult[]> {
  const { packageIds, outputDir, onProgress, onLoaded } = params;
  if (!Array.isArray(packageIds) || !packageIds.every((id) => typeof id === 'string' && id !== '')) {
    throw new TypeError('vectors.batchLoad: packageIds must be an array of non-empty strings');
  }
  if (typeof outputDir !== 'string' || outputDir === '')
    throw new TypeError('vectors.batchLoad: outputDir must be a path');
  const maxConcurrency = params.maxConcurrency ?? DEFAULT_BATCH_CONCURRENCY;
  if (!Number.isSafeInteger(maxConcurrency) || maxConcurrency < 1) {
    throw new RangeError(`vectors.batchLoad: maxConcurrency must be an integer >= 1, got ${params.maxConcurrency}`);
  }
  const signal = callSignal(closer, params.signal);
  const distinct = [...new Set(packageIds)];
  const total = packageIds.length;
  const results = new Map<string, LoadResult>();
  const packageByURL = new Map<string, string>();
  let completed = 0;
  const finish = (result: LoadResult) => {
    if (results.has(result.packageId)) return;
    results.set(result.packageId, result);
    for (const id of packageIds) {
      if (id !== result.packageId) continue;
      completed++;
      onLoaded?.(result);
      onProgress?.({ completed, total });
    }
  };
  if (distinct.length === 0) return [];

  const pipeline = purchasePackages(client, { outputDir, concurrency: maxConcurrency }).pipe(
    download({ outputDir, maxConcurrency, retries: params.retries }),
  );
  const input = distinct.map((packageId) => PackageRefPart.make({ packageId }));
  let next = 0;
  for await (const p of pipeline(input, { signal })) {
    if (p.substream === 'status') {
      const metadata = p.metadata as {
        type?: string;
        packageId?: string;
        url?: string;
        result?: DownloadResult;
        code?: string;
      };
      if (metadata.type === 'PackagePurchased' && metadata.packageId && metadata.url) {
        packageByURL.set(metadata.url, metadata.packageId);
      } else if (metadata.type === 'DownloadProgress' && metadata.result) {
        const packageId = packageByURL.get(metadata.result.url);
        if (packageId) finish(loadResult(packageId, metadata.result, false));
      } else if ((metadata.type === 'PackageCached' || metadata.type === 'PurchaseFailed') && metadata.result) {
        // Settled without a download (already on disk, or not bought): reported now, not at its turn.
        if (metadata.packageId)
          finish(loadResult(metadata.packageId, metadata.result, metadata.type === 'PackageCached', metadata.code));
      }
      continue;
    }
    if (!isResultPart(p)) continue;
    // One result per distinct package, in input order: whatever was not reported yet is reported now.
    const packageId = distinct[next++];
    const cause = p.metadata.cause as { code?: unknown } | undefined;
    finish(loadResult(packageId, readJSON(p, DownloadResultSchema), p.metadata.cached === true, cause?.code));
  }
  return packageIds.map(
    (id) => results.get(id) ?? { packageId: id, success: false, error: 'the pipeline gave no result for this package' },
  );
}
