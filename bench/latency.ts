/**
 * Scenario 4: time for one part to cross 20 identity stages, in microseconds.
 *   raw        20 nested raw async generators
 *   ix map     20 ix map operators (esnext)
 *   processor  chain of 20 `processor` stages (identity generator fn)
 *   fused      chain of 20 `partProcessor(p => p)` stages (fused)
 * Two measurements, each the median of many single-part samples, subjects interleaved sample by
 * sample:
 *   one-part run   build the pipeline, run it over [part], drain it (setup + crossing + teardown)
 *   live pipeline  a pipeline already running on a channel: the time from handing it one part to
 *                  the consumer receiving it (the pipeline is idle before each part)
 *
 *   pnpm exec tsx --expose-gc bench/latency.ts
 */
import { from } from '@reactivex/ix-esnext-esm/Ix.asynciterable';
import { map } from '@reactivex/ix-esnext-esm/Ix.asynciterable.operators';
import { chain, type Part, type PartStream, partProcessor, processor, textPart } from '@sluice/core';
import { envInt, fmt, gc, isMain, machine, median, ratio, rawStage, report, type ScenarioResult } from './harness.ts';

const K = 20;

async function* identity(input: PartStream): AsyncGenerator<Part> {
  for await (const p of input) yield p;
}

type Build = (source: AsyncIterable<Part>) => AsyncIterable<Part>;

function builders(): [string, Build][] {
  const processors = chain(...Array.from({ length: K }, () => processor(identity, { name: 'identity' })));
  const fused = chain(...Array.from({ length: K }, () => partProcessor((p: Part) => p, { name: 'identity' })));
  const ixOps = Array.from({ length: K }, () => map((p: Part) => p));
  return [
    [
      'raw',
      (source) => {
        let s = source;
        for (let i = 0; i < K; i++) s = rawStage(s);
        return s;
      },
    ],
    ['ix map', (source) => (from(source).pipe as (...ops: unknown[]) => AsyncIterable<Part>)(...ixOps)],
    ['processor', (source) => processors(source)],
    ['fused', (source) => fused(source)],
  ];
}

/** A source whose items are handed in one at a time with `send`. */
class Channel implements AsyncIterable<Part>, AsyncIterator<Part> {
  #waiting: ((result: IteratorResult<Part>) => void) | undefined;
  get ready(): boolean {
    return this.#waiting !== undefined;
  }
  send(p: Part): void {
    const resolve = this.#waiting!;
    this.#waiting = undefined;
    resolve({ done: false, value: p });
  }
  next(): Promise<IteratorResult<Part>> {
    return new Promise((resolve) => {
      this.#waiting = resolve;
    });
  }
  async return(): Promise<IteratorResult<Part>> {
    this.#waiting?.({ done: true, value: undefined });
    this.#waiting = undefined;
    return { done: true, value: undefined };
  }
  [Symbol.asyncIterator](): AsyncIterator<Part> {
    return this;
  }
}

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

async function* single(p: Part): AsyncGenerator<Part> {
  yield p;
}

function percentile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

export async function main(): Promise<ScenarioResult> {
  const reps = envInt('BENCH_REPS', 5);
  const perRep = envInt('BENCH_LATENCY_SAMPLES', 1000);
  const warmup = envInt('BENCH_WARMUP', 1);
  const p = textPart('one part');
  const subjects = builders();

  // One-part runs: each sample builds, runs and drains the whole pipeline over one part.
  const runs = new Map<string, number[]>(subjects.map(([name]) => [name, []]));
  for (let r = 0; r < warmup + reps; r++) {
    gc();
    for (let i = 0; i < perRep; i++) {
      for (let j = 0; j < subjects.length; j++) {
        const [name, build] = subjects[(i + j) % subjects.length]!;
        const start = performance.now();
        let n = 0;
        for await (const _ of build(single(p))) n++;
        const elapsed = performance.now() - start;
        if (n !== 1) throw new Error(`${name}: one part in, ${n} out`);
        if (r >= warmup) runs.get(name)!.push(elapsed * 1000);
      }
    }
    process.stderr.write(`  latency one-part runs: rep ${r + 1}/${warmup + reps}\r`);
  }
  process.stderr.write('\n');

  // Live pipelines: all four run at once, each on its own channel; parts go to them in turn.
  const live = subjects.map(([name, build]) => {
    const channel = new Channel();
    return { name, channel, iterator: build(channel)[Symbol.asyncIterator](), samples: [] as number[] };
  });
  for (let r = 0; r < warmup + reps; r++) {
    gc();
    for (let i = 0; i < perRep; i++) {
      for (let j = 0; j < live.length; j++) {
        const s = live[(i + j) % live.length]!;
        const next = s.iterator.next();
        await settle();
        if (!s.channel.ready) throw new Error(`${s.name}: the pipeline did not ask its source for a part`);
        const start = performance.now();
        s.channel.send(p);
        const result = await next;
        const elapsed = performance.now() - start;
        if (result.value !== p) throw new Error(`${s.name}: wrong part out`);
        if (r >= warmup) s.samples.push(elapsed * 1000);
      }
    }
    process.stderr.write(`  latency live pipelines: rep ${r + 1}/${warmup + reps}\r`);
  }
  process.stderr.write('\n');
  for (const s of live) await s.iterator.return?.();

  const table: string[][] = [
    [
      'subject (20 stages)',
      'one-part run µs (median)',
      'one-part run µs (p90)',
      'vs raw',
      'live crossing µs (median)',
      'live crossing µs (p90)',
      'vs raw',
    ],
  ];
  const rawRun = median(runs.get('raw')!);
  const rawLive = median(live.find((s) => s.name === 'raw')!.samples);
  for (const s of live) {
    const one = runs.get(s.name)!;
    table.push([
      s.name,
      fmt(median(one), 1),
      fmt(percentile(one, 0.9), 1),
      ratio(median(one) / rawRun),
      fmt(median(s.samples), 1),
      fmt(percentile(s.samples, 0.9), 1),
      ratio(median(s.samples) / rawLive),
    ]);
  }
  const result: ScenarioResult = {
    scenario: 'latency',
    title: `Scenario 4: one part across ${K} stages, µs (median of ${reps} x ${perRep} samples per subject, interleaved)`,
    table,
    checks: [],
    notes: ['no target; reported for reference'],
    meta: { ...machine(), K, reps, perRep, warmup },
  };
  report(result);
  return result;
}

if (isMain(import.meta.url)) await main();
