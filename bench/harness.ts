/**
 * Shared helpers of the benchmarks in bench/: interleaved repetitions, medians, tables, and the
 * JSON result each scenario leaves in bench/results/ for bench/run.ts to summarise.
 *
 * Every scenario is a script of its own (`pnpm exec tsx bench/<name>.ts`); run.ts runs each in a
 * fresh `node --expose-gc` process so that one scenario's JIT state and heap do not leak into the
 * next. Environment knobs: BENCH_REPS (repetitions, default per scenario, >= 5 recommended),
 * BENCH_WARMUP (warm-up runs per subject).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
export const RESULTS_DIR = join(BENCH_DIR, 'results');

/** One thing being timed: `run` does the whole job once (the timer covers all of it). */
export interface Subject {
  readonly name: string;
  readonly run: () => Promise<unknown>;
}

export interface Stats {
  /** Wall-clock milliseconds. */
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly samples: readonly number[];
  /**
   * Process CPU milliseconds (user + system, all threads) over the same runs: less sensitive than
   * wall time to other processes taking the cores, so a cross-check of wall-time ratios.
   */
  readonly cpuMedian: number;
  readonly cpuSamples: readonly number[];
}

/** A target a benchmark checks: `value` compared with `threshold` (`<=` or `>=`). */
export interface Check {
  readonly target: string;
  readonly value: number;
  readonly op: '<=' | '>=';
  readonly threshold: number;
  readonly unit?: string;
  readonly met: boolean;
}

export interface ScenarioResult {
  readonly scenario: string;
  readonly title: string;
  /** Markdown table (header row included) of the scenario's medians and ratios. */
  readonly table: string[][];
  readonly checks: readonly Check[];
  readonly notes?: readonly string[];
  readonly meta: Record<string, unknown>;
}

export function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new RangeError(`${name} must be a non-negative integer, got ${raw}`);
  return value;
}

export function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function stats(samples: readonly number[], cpuSamples: readonly number[] = []): Stats {
  return {
    median: median(samples),
    min: Math.min(...samples),
    max: Math.max(...samples),
    samples,
    cpuMedian: cpuSamples.length > 0 ? median(cpuSamples) : Number.NaN,
    cpuSamples,
  };
}

/**
 * Times every subject `reps` times after `warmup` untimed runs each. Repetitions are interleaved
 * (rep r runs all subjects, in an order rotated by r) so that machine noise lands on all subjects
 * alike; a gc() (when exposed) precedes every timed run. Returns milliseconds per subject.
 */
export async function compare(
  subjects: readonly Subject[],
  options: { reps: number; warmup: number; label?: string },
): Promise<Map<string, Stats>> {
  const { reps, warmup } = options;
  for (let w = 0; w < warmup; w++) {
    for (const s of subjects) await s.run();
  }
  const samples = new Map<string, number[]>(subjects.map((s) => [s.name, []]));
  const cpu = new Map<string, number[]>(subjects.map((s) => [s.name, []]));
  for (let r = 0; r < reps; r++) {
    for (let i = 0; i < subjects.length; i++) {
      const s = subjects[(i + r) % subjects.length]!;
      gc();
      const cpuStart = process.cpuUsage();
      const start = performance.now();
      await s.run();
      samples.get(s.name)!.push(performance.now() - start);
      const used = process.cpuUsage(cpuStart);
      cpu.get(s.name)!.push((used.user + used.system) / 1000);
    }
    if (options.label) process.stderr.write(`  ${options.label}: rep ${r + 1}/${reps}\r`);
  }
  if (options.label) process.stderr.write('\n');
  return new Map([...samples].map(([name, values]) => [name, stats(values, cpu.get(name))]));
}

/**
 * Median over repetitions of `a`'s time / `b`'s time within the same repetition (compare() runs
 * every subject back to back in each repetition). On a shared machine whose load drifts, this is
 * steadier than the ratio of the two medians.
 */
export function pairedRatio(a: Stats, b: Stats, cpu = false): number {
  const xs = cpu ? a.cpuSamples : a.samples;
  const ys = cpu ? b.cpuSamples : b.samples;
  return median(xs.map((x, i) => x / ys[i]!));
}

export function check(target: string, value: number, op: '<=' | '>=', threshold: number, unit?: string): Check {
  const met = op === '<=' ? value <= threshold : value >= threshold;
  return { target, value, op, threshold, unit, met };
}

/** Formats a number with `digits` significant-ish decimals, thousands separated. */
export function fmt(value: number, digits = 2): string {
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  const decimals = abs >= 1000 ? 0 : abs >= 100 ? Math.min(digits, 1) : digits;
  return value.toLocaleString('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
}

export function ratio(value: number): string {
  return `${fmt(value, 2)}x`;
}

/** Renders rows (first row = header) as an aligned plain-text table. */
export function textTable(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => (row[c] ?? '').length)));
  const line = (row: readonly string[]) =>
    row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ');
  return [line(rows[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n');
}

/** Renders rows (first row = header) as a GitHub Markdown table. */
export function markdownTable(rows: readonly (readonly string[])[]): string {
  const line = (row: readonly string[]) => `| ${row.join(' | ')} |`;
  const align = rows[0]!.map((_, c) => (c === 0 ? '---' : '---:'));
  return [line(rows[0]!), line(align), ...rows.slice(1).map(line)].join('\n');
}

export function describeCheck(c: Check): string {
  const unit = c.unit ? ` ${c.unit}` : '';
  return `${c.met ? 'MET   ' : 'MISSED'}  ${c.target}: ${fmt(c.value)}${unit} (target ${c.op} ${fmt(c.threshold)}${unit})`;
}

export function machine(): Record<string, unknown> {
  return {
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    cores: cpus().length,
    execArgv: process.execArgv,
    loadavgAtEnd: loadavg(),
  };
}

/** Prints the scenario's table and checks, and saves it as bench/results/<scenario>.json. */
export function report(result: ScenarioResult): void {
  console.log(`\n${result.title}\n`);
  console.log(textTable(result.table));
  if (result.notes?.length) console.log(`\n${result.notes.map((n) => `note: ${n}`).join('\n')}`);
  if (result.checks.length) console.log(`\n${result.checks.map(describeCheck).join('\n')}`);
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(join(RESULTS_DIR, `${result.scenario}.json`), `${JSON.stringify(result, null, 2)}\n`);
}

/** True when `metaUrl` is the script node was started with (so a scenario runs itself only then). */
export function isMain(metaUrl: string): boolean {
  const entry = process.argv[1];
  return entry !== undefined && fileURLToPath(metaUrl) === entry;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A raw async generator stage, the baseline every scenario compares against. */
export async function* rawStage<T>(source: AsyncIterable<T>): AsyncGenerator<T> {
  for await (const x of source) yield x;
}

/** A raw async generator over an array: the common source of the throughput scenarios. */
export async function* fromArray<T>(items: readonly T[]): AsyncGenerator<T> {
  for (const x of items) yield x;
}

/** Consumes `source` and returns how many items it yielded. */
export async function drain(source: AsyncIterable<unknown>): Promise<number> {
  let n = 0;
  for await (const _ of source) n++;
  return n;
}

export function expectCount(actual: number, expected: number, where: string): void {
  if (actual !== expected) throw new Error(`${where}: expected ${expected} items, got ${actual}`);
}
