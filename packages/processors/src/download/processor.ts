// The `download` part processor: DownloadRequest parts in, verified files and DownloadResult parts
// out, with progress status parts counted per run.

import {
  type Context,
  jsonObjectOf,
  jsonTypeOf,
  type Part,
  type PartProcessor,
  partProcessor,
  runState,
} from '@sluice/core';
import { Semaphore } from '@sluice/streams';
import { type DownloadFileOptions, type DownloadProgress, downloadFile } from './file.ts';
import { type DownloadRequest, type DownloadResult, DownloadResultPart } from './schemas.ts';

/** Options of the `download` processor, plus those of `downloadFile`. */
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
  /** True once no more requests can reach the processor in this run, so `filesTotal` no longer grows. */
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
  /** No more requests will arrive in this run: `filesTotal` is final. */
  inputEnded: boolean;
  lastEmit: number;
}

function newRunState(): RunState {
  return { results: new Map(), bytes: new Map(), filesTotal: 0, filesCompleted: 0, inputEnded: false, lastEmit: 0 };
}

const MiB = 1024 * 1024;
const mib = (bytes: number) => (bytes / MiB).toFixed(1);

/**
 * A part processor turning DownloadRequest parts into verified files in `outputDir`, emitting throttled progress
 * status parts and one DownloadResult part per request, in input order. At most `maxConcurrency` files download
 * at once (across every run of this processor); duplicate requests in a run share one download; a failed request
 * yields `success: false` and never stops the batch. Stopping the run (signal, break, error) aborts every request,
 * deletes the partial files and closes the sockets. Options are checked at once (RangeError/TypeError). Progress
 * counts the requests of the run; once no more can arrive (`filesTotalFinal`), the totals are final, called
 * directly or inside a chain alike.
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
  const slots = new Semaphore(maxConcurrency);
  const key = {};
  const stateOf = (ctx: Context) => runState(ctx, key, newRunState);

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

  return partProcessor(
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
        shared = slots.run(() => downloadFile(request, options, ctx.signal, onProgress), ctx.signal);
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
      yield DownloadResultPart.make(result);
    },
    {
      name: 'download',
      match: isDownloadRequest,
      // Every request is taken as soon as it is read (so it is counted), and waits for its slot inside;
      // the slots, not this, bound the downloads.
      concurrency: Number.POSITIVE_INFINITY,
      onInputEnd: (ctx) => {
        stateOf(ctx).inputEnded = true;
      },
    },
  );
}
