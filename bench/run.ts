/**
 * Runs the foundation benchmarks in sequence, each in a fresh `node --expose-gc` process (so one
 * scenario's JIT state and heap do not bias the next), then prints a Markdown summary (also saved
 * as bench/results/summary.md) ready for bench/README.md.
 *
 *   pnpm bench                      # all scenarios
 *   pnpm bench stages merge         # some of them (any bench/<name>.ts scenario can be named)
 * Knobs (environment): BENCH_REPS, BENCH_WARMUP; see each scenario file for its own.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { BENCH_DIR, describeCheck, markdownTable, RESULTS_DIR, type ScenarioResult } from './harness.ts';

const SCENARIOS = ['stages', 'ordered-concurrency', 'merge', 'latency', 'memory'];

const wanted = process.argv.slice(2);
for (const name of wanted) {
  // Any scenario script of bench/ can be named (the other sections' too); the default is the foundation set.
  if (!existsSync(join(BENCH_DIR, `${name}.ts`))) {
    throw new Error(`unknown scenario ${name}: no bench/${name}.ts (default set: ${SCENARIOS.join(', ')})`);
  }
}
const scenarios = wanted.length > 0 ? wanted : SCENARIOS;
const execArgv = process.execArgv.includes('--expose-gc') ? process.execArgv : [...process.execArgv, '--expose-gc'];

const failed: string[] = [];
const started = performance.now();
/** 1-minute load average before and after each scenario: this machine is shared, so say how busy it was. */
const load = new Map<string, [number, number]>();
for (const name of scenarios) {
  const file = join(RESULTS_DIR, `${name}.json`);
  if (existsSync(file)) rmSync(file);
  console.log(`\n=== ${name} ===`);
  const t = performance.now();
  const before = loadavg()[0]!;
  const child = spawnSync(process.execPath, [...execArgv, join(BENCH_DIR, `${name}.ts`)], { stdio: 'inherit' });
  load.set(name, [before, loadavg()[0]!]);
  console.log(`(${name}: ${((performance.now() - t) / 1000).toFixed(1)} s)`);
  if (child.status !== 0) failed.push(name);
}

const cpu = cpus();
const lines = [
  `Command: \`pnpm bench\` (\`tsx bench/run.ts\`: each scenario in its own \`node --expose-gc\` process).`,
  `Machine: ${cpu.length} cores (${cpu[0]?.model.trim() ?? 'unknown CPU'}), Node ${process.version}, ${process.platform}-${process.arch}; ${new Date().toISOString().slice(0, 10)}.`,
  '',
];
const checks: string[] = [];
for (const name of scenarios) {
  const file = join(RESULTS_DIR, `${name}.json`);
  if (!existsSync(file)) {
    lines.push(`### ${name}`, '', 'no result (the scenario failed)', '');
    continue;
  }
  const result = JSON.parse(readFileSync(file, 'utf8')) as ScenarioResult;
  const [before, after] = load.get(name)!;
  lines.push(`### ${result.title}`, '', markdownTable(result.table), '');
  lines.push(
    `- 1-minute load average of the ${cpu.length}-core machine: ${before.toFixed(1)} before, ${after.toFixed(1)} after`,
  );
  for (const note of result.notes ?? []) lines.push(`- ${note}`);
  if (result.notes?.length) lines.push('');
  for (const c of result.checks) checks.push(`- ${describeCheck(c).replace(/^(MET|MISSED)\s+/, '**$1** ')}`);
}
lines.push('### Targets', '', ...checks, '');
const summary = lines.join('\n');
writeFileSync(join(RESULTS_DIR, 'summary.md'), summary);
console.log(`\n=== summary (bench/results/summary.md) ===\n\n${summary}`);
console.log(`total ${((performance.now() - started) / 1000).toFixed(0)} s`);
if (failed.length > 0) {
  console.error(`failed: ${failed.join(', ')}`);
  process.exitCode = 1;
}
