/**
 * Scenario 5: peak memory with 1,000,000 parts of 1 KiB and a slow consumer.
 *   sluice  merge of 2 sources (500,000 parts each) -> chain(processor(identity generator),
 *           partProcessor(async p => p)) -> consumer
 *   raw     the same with raw async generators: a Promise.race merge, a generator stage, and a
 *           generator stage awaiting an async identity per part
 *   ix      ix merge(a, b).pipe(map(p => p), map(async p => p))
 * The consumer sleeps 1 ms every 1,000 parts, so the producers are always ahead of it. Memory
 * (RSS, heapUsed, arrayBuffers) is sampled every 1,000 parts and every 5 ms by a timer; the figure
 * is the peak minus the baseline taken after gc() just before the run.
 * Each run happens in a fresh `node --expose-gc` child process (this file with `--child <name>`),
 * runs interleaved across subjects, because RSS never shrinks back within a process, so a
 * second run in the same process would be measured against a polluted baseline. To stay under a
 * minute, sluice runs 3 times (median) and the raw and ix references once each (peak memory varies
 * far less between runs than time does; BENCH_MEMORY_REPS / BENCH_MEMORY_REF_REPS change this).
 * Target: sluice <= 64 MiB above baseline (RSS and heapUsed).
 *
 *   pnpm exec tsx --expose-gc bench/memory.ts
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { merge as ixMerge } from '@reactivex/ix-esnext-esm/Ix.asynciterable';
import { map } from '@reactivex/ix-esnext-esm/Ix.asynciterable.operators';
import { chain, dataPart, type Part, type PartStream, partProcessor, processor } from '@sluice/core';
import { merge } from '@sluice/streams';
import {
  type Check,
  check,
  envInt,
  fmt,
  gc,
  isMain,
  machine,
  median,
  rawStage,
  report,
  type ScenarioResult,
  sleep,
} from './harness.ts';

const MiB = 1024 * 1024;
const TOTAL = envInt('BENCH_MEMORY_PARTS', 1_000_000);
const PART_BYTES = 1024;
const SLOW_EVERY = 1000;
const SLOW_MS = 1;
const LIMIT_MIB = 64;
const SUBJECTS = ['sluice', 'raw', 'ix'] as const;
type SubjectName = (typeof SUBJECTS)[number];

interface Sample {
  rss: number;
  heapUsed: number;
  arrayBuffers: number;
}

interface ChildResult {
  subject: SubjectName;
  parts: number;
  ms: number;
  baseline: Sample;
  peak: Sample;
  samples: number;
}

async function* chunks(count: number, seed: number): AsyncGenerator<Part> {
  for (let i = 0; i < count; i++) {
    const data = new Uint8Array(PART_BYTES);
    data[0] = (seed + i) & 255;
    yield dataPart(data, 'application/octet-stream');
  }
}

async function* raceMerge<T>(a: AsyncIterator<T>, b: AsyncIterator<T>): AsyncGenerator<T> {
  const iterators = [a, b];
  const pending = new Map<number, Promise<{ index: number; result: IteratorResult<T> }>>();
  const pull = (index: number) => iterators[index]!.next().then((result) => ({ index, result }));
  pending.set(0, pull(0));
  pending.set(1, pull(1));
  while (pending.size > 0) {
    const { index, result } = await Promise.race(pending.values());
    if (result.done) pending.delete(index);
    else {
      pending.set(index, pull(index));
      yield result.value;
    }
  }
}

async function* rawAsyncMap<T>(source: AsyncIterable<T>, fn: (x: T) => Promise<T>): AsyncGenerator<T> {
  for await (const x of source) yield await fn(x);
}

async function* identity(input: PartStream): AsyncGenerator<Part> {
  for await (const p of input) yield p;
}

function pipeline(subject: SubjectName): AsyncIterable<Part> {
  const half = TOTAL / 2;
  const a = chunks(half, 0);
  const b = chunks(half, 1);
  switch (subject) {
    case 'sluice':
      return chain(
        processor(identity, { name: 'identity' }),
        partProcessor(async (p: Part) => p, { name: 'async identity' }),
      )(merge([a, b]));
    case 'raw':
      return rawAsyncMap(rawStage(raceMerge(a, b)), async (p) => p);
    case 'ix':
      return ixMerge(a, b).pipe(
        map((p: Part) => p),
        map(async (p: Part) => p),
      );
  }
}

function sample(): Sample {
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, arrayBuffers: m.arrayBuffers };
}

/** Runs one subject in this process and measures it (the child side). */
async function runChild(subject: SubjectName): Promise<ChildResult> {
  gc();
  gc();
  await sleep(50);
  const baseline = sample();
  const peak = { ...baseline };
  let samples = 0;
  const record = () => {
    const s = sample();
    samples++;
    if (s.rss > peak.rss) peak.rss = s.rss;
    if (s.heapUsed > peak.heapUsed) peak.heapUsed = s.heapUsed;
    if (s.arrayBuffers > peak.arrayBuffers) peak.arrayBuffers = s.arrayBuffers;
  };
  const timer = setInterval(record, 5);
  const start = performance.now();
  let n = 0;
  try {
    for await (const p of pipeline(subject)) {
      if (p.data?.length !== PART_BYTES) throw new Error(`${subject}: bad part`);
      if (++n % SLOW_EVERY === 0) {
        record();
        await sleep(SLOW_MS);
      }
    }
  } finally {
    clearInterval(timer);
  }
  record();
  if (n !== TOTAL) throw new Error(`${subject}: ${TOTAL} parts in, ${n} out`);
  return { subject, parts: n, ms: performance.now() - start, baseline, peak, samples };
}

function spawnChild(subject: SubjectName): ChildResult {
  const args = [...process.execArgv, '--expose-gc', fileURLToPath(import.meta.url), '--child', subject];
  const child = spawnSync(process.execPath, args, { encoding: 'utf8', env: process.env, maxBuffer: 16 * MiB });
  if (child.status !== 0) throw new Error(`memory child ${subject} failed (${child.status}):\n${child.stderr}`);
  const line = child.stdout.split('\n').find((l) => l.startsWith('{'));
  if (!line) throw new Error(`memory child ${subject} printed no result:\n${child.stdout}\n${child.stderr}`);
  return JSON.parse(line) as ChildResult;
}

export async function main(): Promise<ScenarioResult> {
  const reps = envInt('BENCH_MEMORY_REPS', 3);
  const refReps = envInt('BENCH_MEMORY_REF_REPS', 1);
  const results = new Map<SubjectName, ChildResult[]>(SUBJECTS.map((s) => [s, []]));
  for (let r = 0; r < Math.max(reps, refReps); r++) {
    for (let i = 0; i < SUBJECTS.length; i++) {
      const subject = SUBJECTS[(i + r) % SUBJECTS.length]!;
      if (r >= (subject === 'sluice' ? reps : refReps)) continue;
      results.get(subject)!.push(spawnChild(subject));
      process.stderr.write(`  memory: rep ${r + 1}/${reps} ${subject}   \r`);
    }
  }
  process.stderr.write('\n');
  const table: string[][] = [
    [
      'subject',
      'peak RSS - baseline MiB',
      'peak heapUsed - baseline MiB',
      'peak arrayBuffers - baseline MiB',
      'baseline RSS MiB',
      'run s',
      'runs',
    ],
  ];
  const deltas = (subject: SubjectName) => {
    const runs = results.get(subject)!;
    const of = (key: keyof Sample) => median(runs.map((x) => (x.peak[key] - x.baseline[key]) / MiB));
    return {
      rss: of('rss'),
      heap: of('heapUsed'),
      buffers: of('arrayBuffers'),
      base: median(runs.map((x) => x.baseline.rss / MiB)),
      seconds: median(runs.map((x) => x.ms / 1000)),
      runs: runs.length,
    };
  };
  for (const subject of SUBJECTS) {
    const d = deltas(subject);
    table.push([
      subject,
      fmt(d.rss, 1),
      fmt(d.heap, 1),
      fmt(d.buffers, 1),
      fmt(d.base, 1),
      fmt(d.seconds, 2),
      String(d.runs),
    ]);
  }
  const s = deltas('sluice');
  const checks: Check[] = [
    check('slow-consumer peak RSS above baseline (sluice)', s.rss, '<=', LIMIT_MIB, 'MiB'),
    check('slow-consumer peak heapUsed above baseline (sluice)', s.heap, '<=', LIMIT_MIB, 'MiB'),
  ];
  const result: ScenarioResult = {
    scenario: 'memory',
    title: `Scenario 5: peak memory, ${TOTAL.toLocaleString('en-US')} parts of 1 KiB, consumer sleeping ${SLOW_MS} ms every ${SLOW_EVERY} parts (median of runs, each in a fresh process)`,
    table,
    checks,
    notes: ['each run in its own `node --expose-gc` process; baseline taken after gc() before the pipeline starts'],
    meta: { ...machine(), total: TOTAL, partBytes: PART_BYTES, reps, refReps, runs: Object.fromEntries(results) },
  };
  report(result);
  return result;
}

if (isMain(import.meta.url)) {
  const childAt = process.argv.indexOf('--child');
  if (childAt >= 0) {
    const subject = process.argv[childAt + 1] as SubjectName;
    if (!SUBJECTS.includes(subject)) throw new Error(`unknown subject ${subject}`);
    console.log(JSON.stringify(await runChild(subject)));
  } else {
    await main();
  }
}
