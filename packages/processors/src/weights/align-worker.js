// The align worker: runs align-kernel.js on blocks sent by align.ts so the
// main thread's event loop stays free. Messages are handled one at a time, in
// order; buffers travel both ways as transfers (no copies). Plain JavaScript
// so that `new Worker(url)` loads it under Node, tsx and vitest alike.

import { parentPort } from 'node:worker_threads';
import { applyBlock, createScratch, loraDelta } from './align-kernel.js';

if (!parentPort) throw new Error('align-worker.js must run in a worker thread');
const port = parentPort;
const scratch = createScratch();
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
      const stats = applyBlock(
        { dtype: msg.dtype, w: msg.w, count: msg.count, s: msg.s, d, dDtype: msg.dDtype },
        scratch,
      );
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
