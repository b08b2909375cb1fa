// The f64 sums behind the numbers of an AlignmentChunk: sum of delta^2 (its `deltaNorm`), and the dot product and
// squared norms of the weights before and after (the cosines `layerScore` and `alignmentScore`). Blocks' sums are
// added in block order, so the results do not depend on which worker computed which block.

import type { BlockStats } from './align-kernel.js';

/** Running f64 sums of one layer or of the whole run. */
export interface Sums {
  sumDelta2: number;
  dot: number;
  normW2: number;
  normOut2: number;
  changed: boolean;
}

/** Sums of nothing (a layer without modified tensors). */
export const emptySums = (): Sums => ({ sumDelta2: 0, dot: 0, normW2: 0, normOut2: 0, changed: false });

/** Adds a block's (or a layer's) sums to `into`. */
export function addSums(into: Sums, s: BlockStats | Sums): void {
  into.sumDelta2 += s.sumDelta2;
  into.dot += s.dot;
  into.normW2 += s.normW2;
  into.normOut2 += s.normOut2;
  into.changed ||= s.changed;
}

/** Cosine of the weights before and after; exactly 1 when nothing changed. */
export function cosine(s: Sums): number {
  if (!s.changed) return 1;
  if (s.normW2 === 0 || s.normOut2 === 0) return s.normW2 === s.normOut2 ? 1 : 0;
  const product = s.normW2 * s.normOut2;
  const norms = Number.isFinite(product) ? Math.sqrt(product) : Math.sqrt(s.normW2) * Math.sqrt(s.normOut2);
  return Math.min(1, Math.max(-1, s.dot / norms));
}
