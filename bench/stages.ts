/**
 * Scenario 1: 200,000 parts through K = 1, 5, 20 identity stages.
 *   raw        K nested `async function*(src) { for await (const x of src) yield x }`
 *   ix map     K ix `map(p => p)` operators (esnext build)
 *   processor  K `processor` stages (identity generator fn) chained with `chain(...)`
 *   fused      K `partProcessor(p => p)` stages chained (fused into one part processor)
 * All four read the same raw generator source and are drained by the same `for await` loop.
 * Targets: fused >= 8x the parts/s of raw at K = 20 and >= 1.0x at K = 1; processor <= 1.15x raw's
 * time at K = 20.
 *
 *   pnpm exec tsx --expose-gc bench/stages.ts
 */
import { from } from '@reactivex/ix-esnext-esm/Ix.asynciterable';
import { map } from '@reactivex/ix-esnext-esm/Ix.asynciterable.operators';
import { chain, type Part, type PartStream, partProcessor, processor, textPart } from '@sluice/core';
import {
  check,
  compare,
  drain,
  envInt,
  expectCount,
  fmt,
  fromArray,
  isMain,
  machine,
  pairedRatio,
  ratio,
  rawStage,
  report,
  type ScenarioResult,
  type Subject,
} from './harness.ts';

const N = envInt('BENCH_STAGES_N', 200_000);
const KS = [1, 5, 20];

async function* identity(input: PartStream): AsyncGenerator<Part> {
  for await (const p of input) yield p;
}

export function subjects(parts: readonly Part[], k: number): Subject[] {
  const processors = chain(...Array.from({ length: k }, () => processor(identity, { name: 'identity' })));
  const fused = chain(...Array.from({ length: k }, () => partProcessor((p: Part) => p, { name: 'identity' })));
  const ixOps = Array.from({ length: k }, () => map((p: Part) => p));
  const expect = (n: number, where: string) => expectCount(n, parts.length, `${where} K=${k}`);
  return [
    {
      name: 'raw',
      run: async () => {
        let s: AsyncIterable<Part> = fromArray(parts);
        for (let i = 0; i < k; i++) s = rawStage(s);
        expect(await drain(s), 'raw');
      },
    },
    {
      name: 'ix map',
      run: async () => {
        // pipe(...) with a spread loses the operator types; the identity map keeps Part anyway.
        const s = (from(fromArray(parts)).pipe as (...ops: unknown[]) => AsyncIterable<Part>)(...ixOps);
        expect(await drain(s), 'ix');
      },
    },
    { name: 'processor', run: async () => expect(await drain(processors(fromArray(parts))), 'processor') },
    { name: 'fused', run: async () => expect(await drain(fused(fromArray(parts))), 'fused') },
  ];
}

export async function main(): Promise<ScenarioResult> {
  const reps = envInt('BENCH_REPS', 7);
  const warmup = envInt('BENCH_WARMUP', 2);
  const parts = Array.from({ length: N }, (_, i) => textPart(`part ${i}`));
  const table: string[][] = [
    [
      'K',
      'raw ms',
      'ix map ms',
      'processor ms',
      'fused ms',
      'raw parts/s',
      'fused parts/s',
      'fused speed-up vs raw',
      'processor / raw time',
      'ix / raw time',
      'fused speed-up (CPU time)',
      'processor / raw (CPU time)',
    ],
  ];
  const checks = [];
  const meta: Record<string, unknown> = { ...machine(), N, reps, warmup };
  for (const k of KS) {
    const s = await compare(subjects(parts, k), { reps, warmup, label: `stages K=${k}` });
    const raw = s.get('raw')!.median;
    const ix = s.get('ix map')!.median;
    const proc = s.get('processor')!.median;
    const fused = s.get('fused')!.median;
    const paired = (a: string, b: string, cpu = false) => pairedRatio(s.get(a)!, s.get(b)!, cpu);
    meta[`K=${k}`] = Object.fromEntries(
      [...s].map(([name, st]) => [name, { wallMs: st.samples, cpuMs: st.cpuSamples }]),
    );
    table.push([
      String(k),
      fmt(raw),
      fmt(ix),
      fmt(proc),
      fmt(fused),
      fmt((N / raw) * 1000, 0),
      fmt((N / fused) * 1000, 0),
      ratio(paired('raw', 'fused')),
      ratio(paired('processor', 'raw')),
      ratio(paired('ix map', 'raw')),
      ratio(paired('raw', 'fused', true)),
      ratio(paired('processor', 'raw', true)),
    ]);
    if (k === 1) {
      checks.push(
        check('fused chain of 1 partProcessor: parts/s vs 1 raw generator', paired('raw', 'fused'), '>=', 1, 'x'),
      );
    }
    if (k === 20) {
      checks.push(
        check('fused chain of 20 partProcessors: parts/s vs 20 raw generators', paired('raw', 'fused'), '>=', 8, 'x'),
      );
      checks.push(
        check('chain of 20 processor stages: time vs 20 raw generators', paired('processor', 'raw'), '<=', 1.15, 'x'),
      );
    }
  }
  const result: ScenarioResult = {
    scenario: 'stages',
    title: `Scenario 1: ${N.toLocaleString('en-US')} parts through K identity stages (median ms of ${reps} interleaved reps)`,
    table,
    checks,
    notes: [
      'ms and parts/s columns are medians; ratio columns are medians of per-repetition ratios (each repetition runs all four subjects back to back), steadier than ratios of medians while the load of the shared machine drifts',
      'checks use wall-clock time; the CPU-time columns (process user+system time over the same runs) are a cross-check less disturbed by other processes sharing the 2 cores',
    ],
    meta,
  };
  report(result);
  return result;
}

if (isMain(import.meta.url)) await main();
