// The align worker: runs align-kernel.js on blocks sent by align.ts so the
// main thread's event loop stays free. Messages are handled one at a time, in
// order; buffers travel both ways as transfers (no copies). Plain JavaScript
// so that `new Worker(url)` loads it under Node, tsx and vitest alike.

import { parentPort } from 'node:worker_threads';
import { applyBlock, createScratch, loraDelta } from './align-kernel.js';
import { createSimdKernel } from './align-simd.js';

if (!parentPort) throw new Error('align-worker.js must run in a worker thread');
const port = parentPort;
const scratch = createScratch();
const simd = createSimdKernel();

/**
 * The SIMD kernel where it applies (F32 weights with F32 deltas, BF16 with BF16), the JS kernel for the rest of
 * the block (the last count % 4 elements, or from the group where a weight became NaN/Inf, to find which).
 * Both round identically; only the order of the f64 sums differs, fixed for a given block size.
 * @param {{ dtype: 'F32' | 'F16' | 'BF16', w: ArrayBuffer, count: number, s: number, d: ArrayBuffer | Float64Array, dDtype?: 'F32' | 'F16' | 'BF16' }} job
 */
function apply(job) {
  const fast = simd && !(job.d instanceof Float64Array) && job.dDtype === job.dtype && job.dtype !== 'F16';
  if (!fast) return applyBlock(job, scratch);
  const dtype = /** @type {'F32' | 'BF16'} */ (job.dtype);
  const { stats, done } = simd.apply(dtype, job.w, /** @type {ArrayBuffer} */ (job.d), job.count, job.s);
  if (done === job.count) return stats;
  const size = dtype === 'F32' ? 4 : 2;
  const rest = job.w.slice(done * size, job.count * size);
  const tail = applyBlock(
    {
      ...job,
      w: rest,
      count: job.count - done,
      d: /** @type {ArrayBuffer} */ (job.d).slice(done * size, job.count * size),
    },
    scratch,
  );
  new Uint8Array(job.w, done * size, rest.byteLength).set(new Uint8Array(rest));
  stats.sumDelta2 += tail.sumDelta2;
  stats.dot += tail.dot;
  stats.normW2 += tail.normW2;
  stats.normOut2 += tail.normOut2;
  stats.changed = stats.changed || tail.changed;
  if (tail.nonFiniteAt >= 0) {
    stats.nonFiniteAt = done + tail.nonFiniteAt;
    stats.before = tail.before;
    stats.after = tail.after;
  }
  return stats;
}
/** A matrices of the LoRA tensors in flight, by tensor name; the main thread drops each when its blocks are done. */
/** @type {Map<string, { a: Float64Array, r: number, cols: number, scale: number }>} */
const loras = new Map();

port.on(
  'message',
  /** @param {any} msg */
  (msg) => {
    try {
      if (msg.type === 'lora') {
        loras.set(msg.key, { a: new Float64Array(msg.a), r: msg.r, cols: msg.cols, scale: msg.scale });
        return;
      }
      if (msg.type === 'drop') {
        loras.delete(msg.key);
        return;
      }
      /** @type {ArrayBuffer | Float64Array} */
      let d = msg.d;
      if (msg.b) {
        const lora = loras.get(msg.key);
        if (!lora) throw new Error(`LoRA block of ${msg.key} before its A matrix`);
        d = loraDelta({ ...lora, b: new Float64Array(msg.b), firstRow: msg.firstRow }, msg.first, msg.count, scratch);
      }
      const stats = apply({ dtype: msg.dtype, w: msg.w, count: msg.count, s: msg.s, d, dDtype: msg.dDtype });
      /** @type {ArrayBuffer[]} */
      const transfer = [msg.w];
      if (msg.d) transfer.push(msg.d);
      if (msg.b) transfer.push(msg.b);
      port.postMessage({ id: msg.id, ok: true, stats, w: msg.w, d: msg.d, b: msg.b }, transfer);
    } catch (error) {
      port.postMessage({ id: msg.id, ok: false, message: error instanceof Error ? error.message : String(error) });
    }
  },
);
