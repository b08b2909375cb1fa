// `wmatrix.streamAlign`: purchase a vector package, download it into the
// client's cache folder, and stream its alignment into base weights, as one
// pipeline run of `purchasePackages` -> `download` -> `align`.

import { mkdir } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { AsyncIterableX } from '@reactivex/ix-esnext-esm/Ix.asynciterable';
import type { Part, Processor } from '@sluice/core';
import {
  type AlignmentChunk,
  AlignmentChunkPart,
  APIError,
  align,
  DownloadError,
  DownloadResultPart,
  download,
  UnsafePathError,
} from '@sluice/processors';
import type { Client } from './client.ts';
import { callSignal } from './marketplace.ts';
import { PackageRefPart, purchasePackages } from './processors.ts';

/** Parameters of `wmatrix.streamAlign`. */
export interface StreamAlignParams {
  /** A `.safetensors` file, or a folder with `model.safetensors` or a sharded index. */
  baseWeights: string;
  vectorPackageId: string;
  /** Finite, 0 to 2; else RangeError, thrown by `streamAlign` itself. */
  strength: number;
  /**
   * Where the aligned weights go. Default: beside the base,
   * `<name>.aligned-<packageId>.safetensors` (a folder `<folder>.aligned-<packageId>` for a folder base).
   */
  output?: string;
  /** Block indices to modify; default all. */
  layers?: number[];
  /** Aborting stops the run, deletes partial files, and iteration rejects with `signal.reason`. */
  signal?: AbortSignal;
}

/** The default output path for `baseWeights` and a package. */
export function defaultAlignOutput(baseWeights: string, packageId: string): string {
  const safe = packageId.replace(/[^\w.-]+/g, '_');
  if (extname(baseWeights) === '.safetensors') {
    return join(dirname(baseWeights), `${basename(baseWeights, '.safetensors')}.aligned-${safe}.safetensors`);
  }
  return `${baseWeights.replace(/\/+$/, '')}.aligned-${safe}`;
}

/**
 * The chunks of one alignment, one per layer in ascending order, the final
 * one (`isFinal`, with `alignmentScore` and `outputPath`) after the output was
 * renamed into place. Single use. `cancel()` stops the run: the partial output
 * is deleted, nothing is written at the output path, and iteration ends
 * without an error once that cleanup is done. Breaking out of the loop does
 * the same. The caller's signal instead makes iteration reject with its reason.
 */
export class AlignmentStream extends AsyncIterableX<AlignmentChunk> {
  readonly #start: (signal: AbortSignal) => AsyncIterable<Part>;
  readonly #signal: AbortSignal;
  readonly #packageId: string;
  readonly #canceller = new AbortController();
  #iterator: AsyncIterator<Part> | undefined;
  #started = false;
  #stopping: Promise<void> | undefined;

  /** @internal */
  constructor(start: (signal: AbortSignal) => AsyncIterable<Part>, signal: AbortSignal, packageId: string) {
    super();
    this.#start = start;
    this.#signal = signal;
    this.#packageId = packageId;
  }

  /** True once `cancel()` was called. */
  get cancelled(): boolean {
    return this.#canceller.signal.aborted;
  }

  /** Stops the alignment; the output is not written (or deleted if not yet renamed into place). Idempotent. */
  cancel(): void {
    if (this.cancelled) return;
    this.#canceller.abort(new DOMException('streamAlign was cancelled', 'AbortError'));
    // The abort stops a read in progress; a run suspended between two reads is inside no await
    // the abort could reach, so it is returned too (queued after a read in progress, if any).
    void this.#stop();
  }

  /** Returns the run once (its `finally` blocks delete the partial output); resolves when that is done. */
  #stop(): Promise<void> {
    this.#stopping ??= Promise.resolve(this.#iterator?.return?.()).then(
      () => {},
      () => {},
    );
    return this.#stopping;
  }

  [Symbol.asyncIterator](): AsyncIterator<AlignmentChunk> {
    if (this.#started) throw new TypeError('streamAlign: this stream was already iterated; call streamAlign again');
    this.#started = true;
    const done = { done: true, value: undefined } as const;
    return {
      next: async (): Promise<IteratorResult<AlignmentChunk>> => {
        for (;;) {
          if (this.cancelled) {
            await this.#stop();
            return done;
          }
          this.#iterator ??= this.#start(AbortSignal.any([this.#signal, this.#canceller.signal]))[
            Symbol.asyncIterator
          ]();
          let result: IteratorResult<Part>;
          try {
            result = await this.#iterator.next();
          } catch (error) {
            if (this.cancelled && !this.#signal.aborted) continue;
            throw error;
          }
          // A chunk that arrives after cancel() is not delivered.
          if (this.cancelled) continue;
          if (result.done) return done;
          const chunk = chunkOf(result.value, this.#packageId);
          if (chunk) return { done: false, value: chunk };
        }
      },
      return: async (): Promise<IteratorResult<AlignmentChunk>> => {
        this.#canceller.abort(new DOMException('streamAlign was stopped', 'AbortError'));
        await this.#stop();
        return done;
      },
    };
  }
}

/**
 * The chunk a part carries. A failed DownloadResult throws: the registry's own error when buying
 * failed with one (`AuthenticationError`, `NotFoundError`, ...: `metadata.cause`), `UnsafePathError`
 * when the registry's filename would land outside the cache folder, else `DownloadError`
 * (its `cause` the error the purchase failed with, if any).
 */
function chunkOf(p: Part, packageId: string): AlignmentChunk | undefined {
  if (p.substream !== '') return undefined;
  if (AlignmentChunkPart.is(p)) return AlignmentChunkPart.read(p);
  if (DownloadResultPart.is(p)) {
    const result = DownloadResultPart.read(p);
    if (!result.success) {
      const cause = p.metadata.cause;
      if (cause instanceof APIError || cause instanceof UnsafePathError) throw cause;
      throw new DownloadError(`streamAlign: could not get package ${packageId}: ${result.error}`, {
        packageId,
        url: result.url || undefined,
        cause,
      });
    }
  }
  return undefined;
}

/** The `wmatrix` resource. */
export interface WMatrix {
  /**
   * Buys `vectorPackageId` (unless the client's cache folder already holds it,
   * verified), downloads it there, and streams its alignment into
   * `baseWeights`: one AlignmentChunk per layer. Fails with the registry's
   * typed error if the package cannot be bought (`AuthenticationError` for a
   * bad key, `NotFoundError` for an unknown package, ...), `DownloadError` if
   * it cannot be fetched or verified, the `align` errors (codes E_UNMATCHED,
   * E_SHAPE, ...) if it does not fit the base.
   */
  streamAlign(params: StreamAlignParams): AlignmentStream;
}

export function wmatrix(client: Client, closer: AbortSignal): WMatrix {
  return {
    streamAlign(params) {
      const { baseWeights, vectorPackageId, strength } = params;
      if (typeof vectorPackageId !== 'string' || vectorPackageId === '') {
        throw new TypeError('wmatrix.streamAlign: vectorPackageId must be a non-empty string');
      }
      const output = params.output ?? defaultAlignOutput(baseWeights, vectorPackageId);
      const outputDir = client.cacheDir;
      // Built now, so a bad strength or path throws here rather than on the first read.
      const pipeline: Processor = purchasePackages(client, { outputDir, concurrency: 1 }).pipe(
        download({ outputDir, maxConcurrency: 1 }),
        align({ baseWeights, strength, output, layers: params.layers }),
      );
      const signal = callSignal(closer, params.signal);
      const input = PackageRefPart.make({ packageId: vectorPackageId });
      return new AlignmentStream(
        async function* run(runSignal) {
          // `align` writes beside the output path; its folder may not exist yet.
          await mkdir(dirname(output), { recursive: true });
          yield* pipeline(input, { signal: runSignal });
        },
        signal,
        vectorPackageId,
      );
    },
  };
}
