/**
 * Tracing overhead, three scenarios, each against an untraced baseline in the same process
 * (interleaved repetitions, medians of per-repetition ratios):
 *   1. a fused chain of 20 part processors, 100 parts per run, traced as one call per run
 *      (target: traced / untraced <= 1.05)
 *   2. first-part latency of a fake model (no delays), traced (a 'processor' call and its 'llm'
 *      call) vs untraced (target: + <= 20 us)
 *   3. jsonlStore write throughput: calls recorded per second while a pipeline runs flat out, the
 *      pipeline's slowdown, and the drop count under overload (a queue of 1,000 records and a
 *      burst of 20,000 calls)
 *
 *   pnpm exec tsx --expose-gc bench/tracing.ts     (BENCH_REPS, default 9)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chain, type Part, type PartProcessor, partProcessor, textPart } from '@sluice/core';
import { fakeModel } from '@sluice/processors';
import { initTracing, jsonlStore, traced } from '@sluice/sdk';
import { envInt, fmt, gc, median } from './harness.ts';

const reps = envInt('BENCH_REPS', 9);
const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-traces-'));

function chain20(): PartProcessor {
  const members = Array.from({ length: 20 }, (_, i) =>
    partProcessor((p: Part) => (p.text!.length > 1000 ? textPart(p.text!.slice(0, 10)) : p), { name: `m${i}` }),
  );
  return chain(...members);
}

async function time(fn: () => Promise<void>): Promise<number> {
  gc();
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

const store = jsonlStore(join(dir, 's1'));
const tracing = await initTracing({ store });

// 1. fused chain of 20, one call per run
const plain = chain20();
const tracedChain = traced(chain20(), { name: 'chain20' });
const input = Array.from({ length: 100 }, (_, i) => `part ${i}`);
const runs = 300;
const run = async (p: PartProcessor) => {
  for (let r = 0; r < runs; r++) for await (const _ of p(input));
};
await run(plain);
await run(tracedChain);
const ratios: number[] = [];
const plainMs: number[] = [];
const tracedMs: number[] = [];
for (let i = 0; i < reps; i++) {
  const order = i % 2 === 0 ? [plain, tracedChain] : [tracedChain, plain];
  const t: number[] = [];
  for (const p of order) t.push(await time(() => run(p)));
  const [a, b] = i % 2 === 0 ? [t[0]!, t[1]!] : [t[1]!, t[0]!];
  plainMs.push(a);
  tracedMs.push(b);
  ratios.push(b / a);
  await tracing.flush();
}
console.log('\n#### Scenario 1: fused chain of 20 part processors, 300 runs x 100 parts');
console.log('| untraced ms | traced ms | traced / untraced (median of per-rep ratios) |');
console.log('| ---: | ---: | ---: |');
console.log(`| ${fmt(median(plainMs))} | ${fmt(median(tracedMs))} | ${fmt(median(ratios), 3)}x |`);

// 2. first-part latency of a fake model
const model = fakeModel({ reply: 'hello there general kenobi' });
const tracedModel = traced(fakeModel({ reply: 'hello there general kenobi' }), { name: 'stage' });
const firstPart = async (p: typeof model): Promise<number> => {
  const t0 = performance.now();
  const it = p(['hi'])[Symbol.asyncIterator]();
  await it.next();
  const t = performance.now() - t0;
  await it.return?.();
  return t;
};
for (let i = 0; i < 200; i++) {
  await firstPart(model);
  await firstPart(tracedModel);
}
const lat: [number[], number[]] = [[], []];
for (let i = 0; i < 2000; i++) {
  if (i % 2 === 0) {
    lat[0].push(await firstPart(model));
    lat[1].push(await firstPart(tracedModel));
  } else {
    lat[1].push(await firstPart(tracedModel));
    lat[0].push(await firstPart(model));
  }
  if (i % 200 === 0) await tracing.flush();
}
const l0 = median(lat[0]) * 1000;
const l1 = median(lat[1]) * 1000;
console.log('\n#### Scenario 2: first-part latency of a fake model (2,000 alternating runs each)');
console.log('| untraced us | traced us | traced - untraced us |');
console.log('| ---: | ---: | ---: |');
console.log(`| ${fmt(l0, 1)} | ${fmt(l1, 1)} | ${fmt(l1 - l0, 1)} |`);
await tracing.close();

// 3. store throughput and overload
const small = traced(
  partProcessor((p: Part) => p, { name: 'identity' }),
  { name: 'one' },
);
const calls = 20_000;
const base = await time(async () => {
  for (let i = 0; i < calls; i++) for await (const _ of chain20()(['x']));
});
const s3 = jsonlStore(join(dir, 's3'));
const t3 = await initTracing({ store: s3 });
const tracedSmall = traced(chain20(), { name: 'run' });
const withStore = await time(async () => {
  for (let i = 0; i < calls; i++) for await (const _ of tracedSmall(['x']));
});
const flushStart = performance.now();
await t3.flush();
const flushMs = performance.now() - flushStart;
console.log('\n#### Scenario 3: jsonlStore, 20,000 one-part runs of a traced chain of 20');
console.log('| untraced ms | traced ms | calls recorded/s (incl. final flush) | written | dropped | errors |');
console.log('| ---: | ---: | ---: | ---: | ---: | ---: |');
console.log(
  `| ${fmt(base)} | ${fmt(withStore)} | ${fmt(calls / ((withStore + flushMs) / 1000), 0)} | ${s3.stats.written} | ${s3.stats.dropped} | ${s3.stats.errors} |`,
);
await t3.close();
const s4 = jsonlStore(join(dir, 's4'), { maxQueued: 1000, onWarning: () => {} });
const t4 = await initTracing({ store: s4 });
// A burst with no await between runs' ends and the flush timer: the queue overflows.
await Promise.all(Array.from({ length: calls }, () => small(['x']).gather()));
await t4.close();
console.log(
  `\nOverload (queue 1,000, burst of ${calls} calls = ${calls * 2} records): written ${s4.stats.written}, dropped ${s4.stats.dropped}`,
);
rmSync(dir, { recursive: true, force: true });
