// Types of align-simd.js (plain JavaScript so the align worker can load it without a TypeScript loader).
import type { BlockStats } from './align-kernel.js';

/** The WebAssembly SIMD kernel of F32/F32 and BF16/BF16 full deltas. */
export interface SimdKernel {
  /**
   * Applies `s * d` in place to the first `done` elements of `w` (a multiple of 4): fewer than `count` for the last
   * count % 4 elements, or from the group of 4 where a finite weight would become NaN/Inf (left unwritten).
   */
  apply(
    dtype: 'F32' | 'BF16',
    w: ArrayBuffer,
    d: ArrayBuffer,
    count: number,
    s: number,
  ): { stats: BlockStats; done: number };
}
/** Compiles the kernel, or returns undefined where WebAssembly SIMD is missing. */
export declare function createSimdKernel(): SimdKernel | undefined;
