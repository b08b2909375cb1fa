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
/** The bytes of the kernel's WebAssembly module (compiled from align-simd.wat by `pnpm run build:wasm`). */
export declare function kernelBytes(): Uint8Array<ArrayBuffer>;
/** The kernel on copies of the blocks, or undefined where WebAssembly SIMD or shared memory is missing. */
export declare function createSimdKernel(): SimdKernel | undefined;
/** The same kernel working in place in a shared WebAssembly.Memory (no copies). */
export interface SharedSimdKernel {
  /** As `SimdKernel.apply`, on `count` weights at byte address `wAt` and deltas at `dAt` of the shared memory. */
  applyAt(
    dtype: 'F32' | 'BF16',
    wAt: number,
    dAt: number,
    count: number,
    s: number,
  ): { stats: BlockStats; done: number };
}
/** The compiled shared-memory kernel, cached per thread; post it to workers (undefined without SIMD or shared memory). */
export declare function sharedKernelModule(): WebAssembly.Module | undefined;
/** The kernel over `memory` (shared); `statsAt`: 64 bytes of it owned by the caller; `module` defaults to this thread's. */
export declare function createSharedSimdKernel(
  memory: WebAssembly.Memory,
  statsAt: number,
  module?: WebAssembly.Module,
): SharedSimdKernel | undefined;
