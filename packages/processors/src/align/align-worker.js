// The align worker: reads and computes the blocks of the align pipeline (pipeline.ts; the pool is workers.ts) in
// a shared WebAssembly.Memory (workerData.memory) that the main thread writes out from. A message names a slot of
// that memory and the file ranges to read into it (positional reads on the main thread's descriptors, synchronous
// here: the event loop never waits for them, and the libuv threads stay free for the writes); the worker modifies
// the weights there in place and answers with the block's sums. Nothing is copied or transferred per block; only
// LoRA B rows travel as transferred buffers. Messages are handled one at a time, in order. Plain JavaScript so that
// `new Worker(url)` loads it under Node, tsx and vitest alike.

import { readSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { applyBlock, createScratch, loraDelta } from './align-kernel.js';
import { createSharedSimdKernel } from './align-simd.js';

if (!parentPort) throw new Error('align-worker.js must run in a worker thread');
const port = parentPort;
/** @type {{ memory: WebAssembly.Memory, statsAt: number, module?: WebAssembly.Module }} */
const { memory, statsAt, module } = workerData;
const buffer = memory.buffer;
const heap = new Uint8Array(buffer);
const scratch = createScratch();
// The main thread's compiled kernel (shared machine code), or compiled here where it could not be sent.
const simd = module ? createSharedSimdKernel(memory, statsAt, module) : createSharedSimdKernel(memory, statsAt);

/**
 * The SIMD kernel where it applies (F32 weights with F32 deltas, BF16 with BF16), the JS kernel for the rest of
 * the block (the last count % 4 elements, or from the group where a weight became NaN/Inf, to find which).
 * Both round identically; only the order of the f64 sums differs, fixed for a given block size.
 * @param {{ dtype: 'F32' | 'F16' | 'BF16', wAt: number, count: number, s: number, dAt: number, dDtype?: 'F32' | 'F16' | 'BF16', lora?: Float64Array }} job
 */
function apply(job) {
  const { dtype, wAt, count, s, dAt, dDtype, lora } = job;
  const fast = simd && !lora && dDtype === dtype && dtype !== 'F16';
  if (!fast) return applyBlock({ dtype, w: buffer, wAt, count, s, d: lora ?? buffer, dAt, dDtype }, scratch);
  const { stats, done } = simd.applyAt(/** @type {'F32' | 'BF16'} */ (dtype), wAt, dAt, count, s);
  if (done === count) return stats;
  const size = dtype === 'F32' ? 4 : 2;
  const tail = applyBlock(
    { dtype, w: buffer, wAt: wAt + done * size, count: count - done, s, d: buffer, dAt: dAt + done * size, dDtype },
    scratch,
  );
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
/**
 * Positional reads into the shared memory: `reads` holds (fd, position, length, address) quadruples. The
 * descriptors belong to the main thread, which closes them only after this worker has stopped.
 * @param {number[]} reads
 */
function readAll(reads) {
  for (let k = 0; k < reads.length; k += 4) {
    const [fd, position, length, at] = reads.slice(k, k + 4);
    let done = 0;
    while (done < length) {
      const n = readSync(fd, heap, at + done, length - done, position + done);
      if (n === 0) throw Object.assign(new Error(`unexpected end of file at byte ${position + done}`), { eof: true });
      done += n;
    }
  }
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
      if (msg.reads) readAll(msg.reads);
      if (msg.type === 'read') {
        port.postMessage({ id: msg.id, ok: true });
        return;
      }
      /** @type {Float64Array | undefined} */
      let lora;
      if (msg.b) {
        const pair = loras.get(msg.key);
        if (!pair) throw new Error(`LoRA block of ${msg.key} before its A matrix`);
        lora = loraDelta(
          { ...pair, b: new Float64Array(msg.b), firstRow: msg.firstRow },
          msg.first,
          msg.count,
          scratch,
        );
      }
      const stats = apply({
        dtype: msg.dtype,
        wAt: msg.wAt,
        count: msg.count,
        s: msg.s,
        dAt: msg.dAt,
        dDtype: msg.dDtype,
        lora,
      });
      port.postMessage({ id: msg.id, ok: true, stats });
    } catch (error) {
      const { message, eof, code } = /** @type {{ message?: string, eof?: boolean, code?: string }} */ (error);
      port.postMessage({ id: msg.id, ok: false, message: message ?? String(error), eof, code });
    }
  },
);
