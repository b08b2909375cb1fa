// Types of align-kernel.js (plain JavaScript so the align worker can load it without a TypeScript loader).
import type { FloatDtype } from '../safetensors/index.ts';

/** Sums of one block, in f64; `nonFiniteAt` is -1 unless a finite weight became NaN/Inf. */
export interface BlockStats {
  sumDelta2: number;
  dot: number;
  normW2: number;
  normOut2: number;
  changed: boolean;
  nonFiniteAt: number;
  before: number;
  after: number;
}
/** Reusable scratch arrays of one thread. */
export interface Scratch {
  w: Float32Array;
  d: Float32Array;
  lora: Float64Array;
}
/** A LoRA pair of one tensor: all of A ([r, cols]) and the rows of B from `firstRow` on. */
export interface LoraBlock {
  a: Float64Array;
  r: number;
  cols: number;
  scale: number;
  b: Float64Array;
  firstRow: number;
}
/**
 * One block: `count` weights of `dtype` in `w` from byte `wAt` (modified in place) and their delta (`dDtype` values
 * in `d` from byte `dAt`, or f64 values). Buffers may be shared; offsets default to 0.
 */
export interface BlockJob {
  dtype: FloatDtype;
  w: ArrayBufferLike;
  wAt?: number;
  count: number;
  s: number;
  d: ArrayBufferLike | Float64Array;
  dAt?: number;
  dDtype?: FloatDtype;
}
export declare function createScratch(): Scratch;
/** d = scale * (B @ A) for elements [first, first + count), summed over k from 0 up in f64. */
export declare function loraDelta(lora: LoraBlock, first: number, count: number, scratch: Scratch): Float64Array;
/** Applies `s * d` to the block in place and returns its sums. */
export declare function applyBlock(job: BlockJob, scratch: Scratch): BlockStats;
