// `align`: streams a weight delta (full tensors or LoRA pairs) into a copy of the base weights, one AlignmentChunk
// per layer. The processors README ("align") describes the options, the math and the guarantees. The files here:
//   align.ts         the part processor, its options and the AlignmentChunk schema
//   pipeline.ts      alignPackage: the block pipeline from the inputs to the committed output
//   plan.ts          the options checked and the package matched to the base (full deltas, LoRA), before any write
//   sums.ts          the f64 sums of a layer and the cosine scores
//   workers.ts       the worker pool and the arena (the shared WebAssembly memory the blocks live in)
//   output.ts        the partial output files, direct (O_DIRECT) writes, commit and discard
//   align-worker.js  the worker thread: reads a block into the arena and computes it in place
//   align-kernel.js  the arithmetic in plain JavaScript (every dtype, LoRA), the reference for the SIMD kernel
//   align-simd.js    the WebAssembly SIMD kernel (F32 and BF16 full deltas), built from align-simd.wat

export {
  type AlignmentChunk,
  AlignmentChunkPart,
  AlignmentChunkSchema,
  type AlignOptions,
  align,
  isAlignInput,
} from './align.ts';
export { type AlignPackageOptions, alignPackage, DEFAULT_BLOCK_BYTES } from './pipeline.ts';
export { checkStrength, layerIndexOf } from './plan.ts';
export { alignWorkerCount, DEFAULT_ALIGN_WORKERS } from './workers.ts';
