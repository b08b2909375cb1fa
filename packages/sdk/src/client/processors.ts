// The registry operations as processors, so they compose with `download`,
// `align` and everything else: `searchPackages` is a source of package parts,
// `purchasePackages` turns package ids into DownloadRequest parts. The
// resources' `batchLoad` and `streamAlign` are built from these.

import {
  type Context,
  jsonPart,
  jsonPartType,
  jsonTypeOf,
  type Part,
  type PartProcessor,
  type Processor,
  partProcessor,
  processor,
} from '@sluice/core';
import { type DownloadRequest, type DownloadResult, DownloadResultPart, resolveInsideFolder } from '@sluice/processors';
import { z } from 'zod';
import type { Client } from './client.ts';
import { isVerifiedFile } from './files.ts';
import type { PackageKind } from './schemas.ts';
import type { SearchParams } from './search.ts';

/** Default number of packages `purchasePackages` handles at once. */
export const DEFAULT_PURCHASE_CONCURRENCY = 4;

/** The JSON `type` of each package kind's parts: 'VectorPackage', 'MemoryPackage', 'ChainPackage'. */
export const PACKAGE_PART_TYPES: Readonly<Record<PackageKind, string>> = {
  vector: 'VectorPackage',
  memory: 'MemoryPackage',
  chain: 'ChainPackage',
};

/** Metadata of the status part `purchasePackages` emits for each purchase. */
export interface PurchaseStatusMetadata {
  readonly type: 'PackagePurchased';
  readonly packageId: string;
  readonly receiptId: string;
  /** The download URL of the purchase, as in the DownloadRequest (and then the DownloadResult). */
  readonly url: string;
}

/**
 * A source processor yielding one `jsonPart(pkg, { type: 'VectorPackage' | 'MemoryPackage' | 'ChainPackage' })`
 * per search result, every page, in the registry's order; pages are fetched as the consumer reads.
 * Stopping the run cancels the request in flight.
 */
export function searchPackages(client: Client, kind: PackageKind, params: SearchParams): Processor {
  const resource = kind === 'vector' ? client.vectors : kind === 'memory' ? client.memories : client.chains;
  const type = PACKAGE_PART_TYPES[kind];
  return processor(
    async function* search(input, ctx) {
      // A source: its input (if any) passes through first.
      for await (const p of input) yield p;
      for await (const item of resource.search(params, { signal: ctx.signal })) yield jsonPart(item, { type });
    },
    { name: `search:${kind}` },
  );
}

/** Options of `purchasePackages`. */
export interface PurchasePackagesOptions {
  /**
   * Look here first: a package whose file is already in this folder with the
   * registry's size and sha256 is not bought again; it comes out as a
   * successful DownloadResult part (metadata `{ packageId, cached: true }`).
   * A registry filename that would land outside this folder (`../x`, an
   * absolute path, a symbolic link leading out) fails that package with
   * `UnsafePathError` (E_UNSAFE_PATH) before it is read or bought.
   */
  outputDir?: string;
  /** Packages handled at once; default 4. */
  concurrency?: number;
}

const PackageRefSchema = z.object({ packageId: z.string().min(1) });

/** `application/json; type=PackageRef` parts: `{ packageId }`, a package to buy. */
export const PackageRefPart = jsonPartType('PackageRef', PackageRefSchema);

function packageIdOf(part: Part): string | undefined {
  if (part.mimetype === 'text/plain' || part.mimetype.startsWith('text/plain;')) {
    const id = part.text?.trim();
    return id ? id : undefined;
  }
  const type = jsonTypeOf(part.mimetype);
  if (type === undefined || !['', 'PackageRef', ...Object.values(PACKAGE_PART_TYPES)].includes(type)) return undefined;
  try {
    const value: unknown = JSON.parse(part.text ?? '');
    const ref = PackageRefSchema.safeParse(value);
    if (ref.success) return ref.data.packageId;
    // A search result part names its package by `id`.
    const item = z.object({ id: z.string().min(1) }).safeParse(value);
    return type !== '' && type !== 'PackageRef' && item.success ? item.data.id : undefined;
  } catch {
    return undefined;
  }
}

/** True for the parts `purchasePackages` takes: a text part holding a package id, `jsonPart({ packageId })`, or a search result part. */
export function isPackageRef(part: Part): boolean {
  return packageIdOf(part) !== undefined;
}

/** Metadata of the failed DownloadResult part `purchasePackages` yields when it cannot buy a package. */
export interface PurchaseFailureMetadata {
  readonly packageId: string;
  /** What the purchase failed with, the same object (e.g. `AuthenticationError`, `NotFoundError`); not sent over the wire. */
  readonly cause: unknown;
}

function failedResult(packageId: string, error: unknown): Part {
  const result: DownloadResult = {
    url: '',
    filename: '',
    path: '',
    sizeBytes: 0,
    sha256: '',
    success: false,
    error: error instanceof Error ? error.message : String(error),
  };
  const metadata: PurchaseFailureMetadata = { packageId, cause: error };
  return DownloadResultPart.make(result, { metadata: { ...metadata } });
}

/**
 * A part processor that buys each package named by its input (a text part
 * holding the id, `jsonPart({ packageId })`, or a search result part) and
 * yields `jsonPart(DownloadRequest, { type: 'DownloadRequest', metadata: { packageId, receiptId } })`,
 * ready for `download`. One output per input, in input order; up to
 * `concurrency` purchases at once, each with its own Idempotency-Key (so the
 * client's retries never buy twice). A failed purchase yields a failed
 * DownloadResult part (`success: false`, `error`; the error itself in
 * `metadata.cause`) and the run goes on; stopping the run cancels the
 * requests in flight.
 */
export function purchasePackages(client: Client, options: PurchasePackagesOptions = {}): PartProcessor {
  const concurrency = options.concurrency ?? DEFAULT_PURCHASE_CONCURRENCY;
  const { outputDir } = options;
  return partProcessor(
    async function purchase(input: Part, ctx: Context): Promise<Part> {
      const packageId = packageIdOf(input)!;
      try {
        if (outputDir !== undefined) {
          const pkg = await client.marketplace.getPackage(packageId, { signal: ctx.signal });
          // The registry's name is checked before anything is read or bought: UnsafePathError fails the package.
          const path = await resolveInsideFolder(outputDir, pkg.filename);
          if (await isVerifiedFile(path, pkg.sizeBytes, pkg.sha256, ctx.signal)) {
            const result: DownloadResult = {
              url: `${client.baseURL}/packages/${encodeURIComponent(packageId)}`,
              filename: pkg.filename,
              path,
              sizeBytes: pkg.sizeBytes,
              sha256: pkg.sha256,
              success: true,
            };
            // The status part carries the result too, so a consumer learns of it now, not when the
            // result part's turn (input order) comes.
            ctx.status(`${packageId}: already in ${outputDir}, not bought again`, {
              metadata: { type: 'PackageCached', packageId, path, result: { ...result } },
            });
            return DownloadResultPart.make(result, { metadata: { packageId, cached: true } });
          }
        }
        const idempotencyKey =
          typeof input.metadata.idempotencyKey === 'string' ? input.metadata.idempotencyKey : undefined;
        const receipt = await client.marketplace.purchase({ packageId, idempotencyKey }, { signal: ctx.signal });
        const { download } = receipt;
        const metadata: PurchaseStatusMetadata = {
          type: 'PackagePurchased',
          packageId,
          receiptId: receipt.receiptId,
          url: download.url,
        };
        ctx.status(`${packageId}: purchased (receipt ${receipt.receiptId})`, { metadata: { ...metadata } });
        const request: DownloadRequest = {
          url: download.url,
          filename: download.filename,
          sha256: download.sha256,
          size: download.sizeBytes,
        };
        return jsonPart(request, {
          type: 'DownloadRequest',
          metadata: { packageId, receiptId: receipt.receiptId },
        });
      } catch (error) {
        if (ctx.signal.aborted) throw error;
        const failed = failedResult(packageId, error);
        ctx.status(`${packageId}: purchase failed: ${error instanceof Error ? error.message : String(error)}`, {
          metadata: {
            type: 'PurchaseFailed',
            packageId,
            result: JSON.parse(failed.text ?? '{}'),
            ...(typeof (error as { code?: unknown })?.code === 'string'
              ? { code: (error as { code: string }).code }
              : {}),
          },
        });
        return failed;
      }
    },
    { name: 'purchasePackages', match: isPackageRef, concurrency },
  );
}
