// The `align` part processor: its options, the parts it takes (a delta package's path, or a successful
// DownloadResult) and the AlignmentChunk parts it emits. The engine behind it is `alignPackage` (pipeline.ts).

import {
  type Context,
  jsonObjectOf,
  jsonPartType,
  jsonTypeOf,
  type Part,
  type PartProcessor,
  partProcessor,
  readJSON,
} from '@sluice/core';
import { z } from 'zod';
import { alignPackage } from './pipeline.ts';
import { checkBlockBytes, checkLayers, checkStrength } from './plan.ts';

/** One layer's progress; the last chunk (`isFinal`) carries `alignmentScore` and `outputPath` and comes after the rename. */
export const AlignmentChunkSchema = z.object({
  layerIndex: z.number().int().nonnegative(),
  totalLayers: z.number().int().positive(),
  deltaNorm: z.number().nonnegative(),
  progressPct: z.number(),
  isFinal: z.boolean(),
  alignmentScore: z.number().optional(),
  outputPath: z.string().optional(),
  /** Cosine between the layer's modified weights before and after (1 when nothing changed). */
  layerScore: z.number().optional(),
});
/** One layer's progress, as the `align` processor emits it (the fields are described in the processors README). */
export type AlignmentChunk = z.infer<typeof AlignmentChunkSchema>;

/** `application/json; type=AlignmentChunk` parts, one per layer `align` finished. */
export const AlignmentChunkPart = jsonPartType('AlignmentChunk', AlignmentChunkSchema);

/** Options of the `align` processor (described in the processors README, "align"). */
export interface AlignOptions {
  /** A `.safetensors` file, or a folder with `model.safetensors.index.json` (sharded) or `model.safetensors`. */
  readonly baseWeights: string;
  /** Finite, 0 <= strength <= 2; else RangeError (thrown by `align()` itself). */
  readonly strength: number;
  /** Output path, or a function of the package path (to align several packages in one run). */
  readonly output: string | ((packagePath: string) => string);
  /** Block indices to modify; others (and tensors outside blocks) are copied unchanged. Default: all. */
  readonly layers?: readonly number[];
  /**
   * Bytes of base weights per block (>= 64; larger than 64 MiB is used as 64 MiB). Memory is about 16 blocks:
   * 8 in flight, weights and deltas. Default 1 MiB.
   */
  readonly blockBytes?: number;
  /** Worker threads reading blocks and doing the arithmetic. Default 1 (DEFAULT_ALIGN_WORKERS). */
  readonly workers?: number;
}

/** The `path` of an align input part: a delta package. */
const AlignInputSchema = z.object({ path: z.string().min(1) });

/**
 * True for the parts `align` takes: a JSON part with a string `path` (`jsonPart({ path })`), or a successful
 * DownloadResult part. A failed DownloadResult does not match, so it passes through to the output unchanged.
 */
export function isAlignInput(part: Part): boolean {
  const type = jsonTypeOf(part.mimetype);
  if (type === undefined || (type !== '' && type !== 'DownloadResult' && type !== 'AlignRequest')) return false;
  const value = jsonObjectOf(part);
  if (!value || typeof value.path !== 'string') return false;
  return type !== 'DownloadResult' || value.success === true;
}

/**
 * A part processor applying each delta package part (`jsonPart({ path })` or a DownloadResult part) to
 * `baseWeights`, emitting one `jsonPart(chunk, { type: 'AlignmentChunk' })` per layer in ascending order, the final
 * one after the output was renamed into place. Packages are aligned one at a time, in input order; other parts pass
 * through. Errors (codes as in `alignPackage`) end the run; stopping the run terminates the worker and deletes the
 * partial output. Options are checked at once: a bad strength throws RangeError here.
 */
export function align(options: AlignOptions): PartProcessor {
  checkStrength(options.strength);
  checkLayers(options.layers);
  if (options.blockBytes !== undefined) checkBlockBytes(options.blockBytes);
  if (typeof options.baseWeights !== 'string' || options.baseWeights === '') {
    throw new TypeError('align: baseWeights must be a path');
  }
  if (typeof options.output !== 'string' && typeof options.output !== 'function') {
    throw new TypeError('align: output must be a path or a function of the package path');
  }
  return partProcessor(
    async function* alignOne(part: Part, ctx: Context) {
      const { path } = readJSON(part, AlignInputSchema);
      const output = typeof options.output === 'function' ? options.output(path) : options.output;
      const run = alignPackage(
        {
          baseWeights: options.baseWeights,
          package: path,
          strength: options.strength,
          output,
          layers: options.layers,
          blockBytes: options.blockBytes,
          workers: options.workers,
        },
        ctx.signal,
      );
      for await (const chunk of run) yield AlignmentChunkPart.make(chunk, { metadata: { package: path } });
    },
    // lazy: each chunk is pulled only when the consumer asks for it, so a consumer that stops after
    // a chunk stops the alignment before the final rename (no finished output is left behind).
    { name: 'align', match: isAlignInput, concurrency: 1, lazy: true },
  );
}
