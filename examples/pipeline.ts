/**
 * A small pipeline over delayed fake streams, printing each part the moment it arrives.
 *
 * Shows: a fused chain of part processors (concurrent, order-keeping), a stream processor that
 * sees the whole input, `ctx.status()` progress that bypasses the stages, `merge` of two delayed
 * sources, and stopping with an AbortSignal. Run: `pnpm exec tsx examples/pipeline.ts`.
 */
import { chain, partProcessor, processor, textPart } from '@sluice/core';
import { merge, streamContent } from '@sluice/streams';

// Two "token streams" arriving at different paces, merged by availability.
const words = merge([
  streamContent(['streams', 'compose', 'cleanly'], { delayMs: 40 }),
  streamContent(['parts', 'flow', 'fast'], { delayMs: 70 }),
]);

// Per-part work with 20 ms of simulated I/O, 4 at a time; output keeps input order.
const lookup = partProcessor(
  async (part, ctx) => {
    await new Promise((resolve) => setTimeout(resolve, 20));
    ctx.status(`looked up "${part.text}"`);
    return textPart(part.text!.toUpperCase(), { metadata: { length: part.text!.length } });
  },
  { name: 'lookup', concurrency: 4 },
);

// A whole-stream processor: numbers the parts and ends with a summary.
const number = processor(async function* (input) {
  let n = 0;
  for await (const part of input) yield textPart(`${++n}. ${part.text}`, { metadata: part.metadata });
  yield textPart(`(${n} words)`);
});

export async function main(log: (line: string) => void = console.log): Promise<void> {
  const start = Date.now();
  const pipeline = chain(lookup, number);
  for await (const part of pipeline(words, { signal: AbortSignal.timeout(10_000) })) {
    const ms = String(Date.now() - start).padStart(4);
    log(`${ms} ms  ${part.substream || 'output'}  ${part.text}`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
