/**
 * Scenario 3: merging S = 2, 16, 256 sources (raw async generators of total / S items each).
 *   sluice  merge(sources) from @sluice/streams
 *   ix      ix merge(first, ...rest) (esnext build): a race over all S sources per item
 *   race    a raw hand-written merge: `await Promise.race(all pending next() promises)` per item
 * The total is fixed (200,000 items). ix and race are O(S) per item, so at S = 256 they merge
 * total / SLOW_DIVISOR items (same S, fewer items per source); the metric is ns per item.
 * Targets: sluice's per-item cost flat from 2 to 256 sources (reported as ns(256) / ns(2), taken
 * as flat when <= 1.5x); sluice >= 20x faster per item than ix merge at 256 sources.
 *
 *   pnpm exec tsx --expose-gc bench/merge.ts
 */
import { merge as ixMerge } from '@reactivex/ix-esnext-esm/Ix.asynciterable';
import { merge } from '@sluice/streams';
import {
  type Check,
  check,
  compare,
  drain,
  envInt,
  expectCount,
  fmt,
  isMain,
  machine,
  ratio,
  report,
  type ScenarioResult,
  type Subject,
} from './harness.ts';

const TOTAL = envInt('BENCH_MERGE_TOTAL', 200_000);
const SS = [2, 16, 256];
const SLOW_DIVISOR = 8;
/** Per-item cost ratio (256 sources vs 2) below which the cost counts as flat. */
const FLAT = 1.5;

async function* numbers(count: number, offset: number): AsyncGenerator<number> {
  for (let i = 0; i < count; i++) yield offset + i;
}

function sourcesOf(s: number, total: number): AsyncGenerator<number>[] {
  const each = Math.floor(total / s);
  return Array.from({ length: s }, (_, i) => numbers(each, i * each));
}

/** The raw hand-written merge: one pending `next()` per source, a `Promise.race` over all of them per item. */
async function* raceMerge<T>(sources: AsyncIterable<T>[]): AsyncGenerator<T> {
  const iterators = sources.map((s) => s[Symbol.asyncIterator]());
  const pending = new Map<number, Promise<{ index: number; result: IteratorResult<T> }>>();
  const pull = (index: number) => iterators[index]!.next().then((result) => ({ index, result }));
  for (let i = 0; i < iterators.length; i++) pending.set(i, pull(i));
  try {
    while (pending.size > 0) {
      const { index, result } = await Promise.race(pending.values());
      if (result.done) pending.delete(index);
      else {
        pending.set(index, pull(index));
        yield result.value;
      }
    }
  } finally {
    await Promise.all([...pending.keys()].map((i) => iterators[i]!.return?.()));
  }
}

/** How many items a subject merges: all of them, or fewer for the O(S)-per-item merges at large S. */
export function itemsFor(name: string, s: number): number {
  const slow = name !== 'sluice' && s >= 256;
  return Math.floor((slow ? TOTAL / SLOW_DIVISOR : TOTAL) / s) * s;
}

export function subjects(s: number): Subject[] {
  const run = (name: string, mergeFn: (sources: AsyncGenerator<number>[]) => AsyncIterable<number>) => ({
    name,
    run: async () => {
      const items = itemsFor(name, s);
      expectCount(await drain(mergeFn(sourcesOf(s, items))), items, `${name} S=${s}`);
    },
  });
  return [
    run('sluice', (sources) => merge(sources)),
    run('ix', (sources) => ixMerge(sources[0]!, ...sources.slice(1))),
    run('race', (sources) => raceMerge(sources)),
  ];
}

export async function main(): Promise<ScenarioResult> {
  const reps = envInt('BENCH_REPS', 5);
  const warmup = envInt('BENCH_WARMUP', 1);
  const table: string[][] = [
    [
      'sources',
      'sluice ms',
      'ix ms',
      'race ms',
      'sluice ns/item',
      'ix ns/item',
      'race ns/item',
      'ix / sluice',
      'race / sluice',
      'sluice CPU ns/item',
    ],
  ];
  const perItem = new Map<number, { sluice: number; ix: number; race: number }>();
  const meta: Record<string, unknown> = { ...machine(), total: TOTAL, slowDivisor: SLOW_DIVISOR, reps, warmup };
  for (const s of SS) {
    const st = await compare(subjects(s), { reps, warmup, label: `merge S=${s}` });
    const ms = (name: string) => st.get(name)!.median;
    const ns = (name: string) => (ms(name) * 1e6) / itemsFor(name, s);
    const row = { sluice: ns('sluice'), ix: ns('ix'), race: ns('race') };
    perItem.set(s, row);
    meta[`S=${s}`] = Object.fromEntries(
      [...st].map(([name, x]) => [name, { items: itemsFor(name, s), ms: x.samples }]),
    );
    const label = (name: string) =>
      itemsFor(name, s) === TOTAL
        ? fmt(ms(name))
        : `${fmt(ms(name))} (${itemsFor(name, s).toLocaleString('en-US')} items)`;
    table.push([
      String(s),
      label('sluice'),
      label('ix'),
      label('race'),
      fmt(row.sluice, 0),
      fmt(row.ix, 0),
      fmt(row.race, 0),
      ratio(row.ix / row.sluice),
      ratio(row.race / row.sluice),
      fmt((st.get('sluice')!.cpuMedian * 1e6) / itemsFor('sluice', s), 0),
    ]);
  }
  const first = perItem.get(SS[0]!)!;
  const last = perItem.get(SS[SS.length - 1]!)!;
  const checks: Check[] = [
    check(
      `merge per-item cost, ${SS[SS.length - 1]} vs ${SS[0]} sources (flat)`,
      last.sluice / first.sluice,
      '<=',
      FLAT,
      'x',
    ),
    check(`merge at ${SS[SS.length - 1]} sources: per-item speed vs ix merge`, last.ix / last.sluice, '>=', 20, 'x'),
  ];
  const result: ScenarioResult = {
    scenario: 'merge',
    title: `Scenario 3: merge of S sources, ${TOTAL.toLocaleString('en-US')} items in total (median of ${reps} interleaved reps)`,
    table,
    checks,
    notes: [
      `ix and race are O(S) per item; at S >= 256 they merge ${TOTAL / SLOW_DIVISOR} items (ns/item compared)`,
      `"flat" is taken as ns/item at 256 sources <= ${FLAT}x ns/item at 2 sources`,
    ],
    meta,
  };
  report(result);
  return result;
}

if (isMain(import.meta.url)) await main();
