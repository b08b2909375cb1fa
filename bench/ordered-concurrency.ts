/**
 * Scenario 2: ordered concurrent per-part work. Each of N parts awaits 1 ms of I/O
 * (`setTimeout(1)`) in a `partProcessor` with concurrency C = 16 and 256 (outputs in input order).
 *   nominal ideal   N x 1 ms / C
 *   platform ideal  measured: C concurrent loops each doing N/C sequential `await setTimeout(1)`
 *                   (Node fires setTimeout(1) after >= 1 ms, often ~1.1-1.3 ms, so this is the
 *                   real floor of any implementation on this machine)
 *   raw window      hand-written ordered window over a raw async generator: C promises in flight,
 *                   awaited head first (the obvious raw-JS implementation)
 *   sluice          partProcessor(async (p) => { await sleep(1); return p }, { concurrency: C })
 *   ix flatMap      ix flatMap(fn, C): the same work, unordered (a reference, not a competitor). ix
 *                   races all C inner iterators per item (O(C) per item: ~50 s for N = 128,000 at
 *                   C = 256), so at C = 256 it runs N / 64 parts and is compared with its own ideal.
 * N = 500 x C, so the nominal ideal is 0.5 s. Targets: sluice <= 1.1x the platform ideal at C = 16,
 * <= 1.2x at C = 256 (median of per-repetition ratios; the ratio to the nominal ideal is reported too).
 *
 *   pnpm exec tsx --expose-gc bench/ordered-concurrency.ts
 */
import { from } from '@reactivex/ix-esnext-esm/Ix.asynciterable';
import { flatMap } from '@reactivex/ix-esnext-esm/Ix.asynciterable.operators';
import { type Part, partProcessor, textPart } from '@sluice/core';
import {
  type Check,
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
  report,
  type ScenarioResult,
  type Subject,
  sleep,
} from './harness.ts';

const CS = [16, 256];
const PER_SLOT = envInt('BENCH_ORDERED_PER_SLOT', 500);
/** Targets against the platform floor (C loops of sequential `await setTimeout(1)`), same run. */
const TARGETS: Record<number, number> = { 16: 1.1, 256: 1.2 };

/** The raw-JS ordered window: up to `c` calls in flight, results yielded in input order. */
async function* orderedWindow<T, R>(source: AsyncIterable<T>, fn: (x: T) => Promise<R>, c: number): AsyncGenerator<R> {
  const window: Promise<R>[] = [];
  let head = 0;
  for await (const x of source) {
    window.push(fn(x));
    if (window.length - head >= c) {
      yield await window[head]!;
      window[head++] = undefined as unknown as Promise<R>;
      if (head > 1024) {
        window.splice(0, head);
        head = 0;
      }
    }
  }
  while (head < window.length) yield await window[head++]!;
}

function expectInOrder(out: readonly Part[], parts: readonly Part[], where: string): void {
  expectCount(out.length, parts.length, where);
  for (let i = 0; i < out.length; i++) if (out[i] !== parts[i]) throw new Error(`${where}: part ${i} out of order`);
}

async function work(p: Part): Promise<Part> {
  await sleep(1);
  return p;
}

const IX_DIVISOR = 64;

/** Parts given to ix flatMap: all of them, except at large C where ix's O(C) per item makes it take minutes. */
export function ixCount(n: number, c: number): number {
  return c >= 256 ? Math.floor(n / IX_DIVISOR) : n;
}
export function subjects(parts: readonly Part[], c: number): Subject[] {
  const n = parts.length;
  const ixParts = parts.slice(0, ixCount(n, c));
  const sluice = partProcessor(work, { name: 'io', concurrency: c });
  return [
    {
      name: 'platform ideal',
      run: async () => {
        const loop = async (count: number) => {
          for (let i = 0; i < count; i++) await sleep(1);
        };
        await Promise.all(Array.from({ length: c }, () => loop(n / c)));
      },
    },
    {
      name: 'raw window',
      run: async () => {
        const out: Part[] = [];
        for await (const p of orderedWindow(fromArray(parts), work, c)) out.push(p);
        expectInOrder(out, parts, `raw window C=${c}`);
      },
    },
    {
      name: 'sluice',
      run: async () => expectInOrder(await sluice(fromArray(parts)).gather(), parts, `sluice C=${c}`),
    },
    {
      name: 'ix flatMap',
      run: async () => {
        const s = from(fromArray(ixParts)).pipe(
          flatMap(async function* (p: Part) {
            await sleep(1);
            yield p;
          }, c),
        );
        expectCount(await drain(s), ixParts.length, `ix flatMap C=${c}`);
      },
    },
  ];
}

export async function main(): Promise<ScenarioResult> {
  const reps = envInt('BENCH_REPS', 5);
  const warmup = envInt('BENCH_WARMUP', 1);
  const table: string[][] = [
    [
      'C',
      'N',
      'nominal ideal ms',
      'platform ideal ms',
      'raw window ms',
      'sluice ms',
      'ix flatMap (unordered) ms',
      'sluice / nominal',
      'sluice / platform',
      'raw window / nominal',
      'ix / its nominal',
    ],
  ];
  const checks: Check[] = [];
  const meta: Record<string, unknown> = { ...machine(), perSlot: PER_SLOT, reps, warmup };
  for (const c of CS) {
    const n = PER_SLOT * c;
    const parts = Array.from({ length: n }, (_, i) => textPart(`part ${i}`));
    const s = await compare(subjects(parts, c), { reps, warmup, label: `ordered C=${c}` });
    const ideal = (n * 1) / c;
    const platform = s.get('platform ideal')!.median;
    const raw = s.get('raw window')!.median;
    const sluice = s.get('sluice')!.median;
    const ix = s.get('ix flatMap')!.median;
    const ixN = ixCount(n, c);
    const ixIdeal = ixN / c;
    meta[`C=${c}`] = Object.fromEntries([...s].map(([name, st]) => [name, st.samples]));
    table.push([
      String(c),
      n.toLocaleString('en-US'),
      fmt(ideal),
      fmt(platform),
      fmt(raw),
      fmt(sluice),
      ixN === n ? fmt(ix) : `${fmt(ix)} (N=${ixN.toLocaleString('en-US')})`,
      ratio(sluice / ideal),
      ratio(pairedRatio(s.get('sluice')!, s.get('platform ideal')!)),
      ratio(raw / ideal),
      ratio(ix / ixIdeal),
    ]);
    checks.push(
      check(
        `ordered partProcessor C=${c}, 1 ms timer work: time vs the platform floor`,
        pairedRatio(s.get('sluice')!, s.get('platform ideal')!),
        '<=',
        TARGETS[c]!,
        'x',
      ),
    );
  }
  const result: ScenarioResult = {
    scenario: 'ordered-concurrency',
    title: `Scenario 2: ordered concurrent 1 ms I/O per part, N = ${PER_SLOT} x C (median ms of ${reps} interleaved reps)`,
    table,
    checks,
    notes: [
      'platform ideal = C concurrent loops of N/C sequential `await setTimeout(1)`: the floor on this machine',
      'the checks use "sluice / platform" (median of per-repetition ratios): the library overhead alone; the nominal ideal is N x 1 ms / C',
      `ix flatMap is O(C) per item; at C >= 256 it runs N / ${IX_DIVISOR} parts, its ratio is to that run's own nominal ideal`,
    ],
    meta,
  };
  report(result);
  return result;
}

if (isMain(import.meta.url)) await main();
