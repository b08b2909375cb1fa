/**
 * Scenario: 10,000 parts of 1 ms simulated I/O on 4 worker processes at concurrency 16 each (64
 * slots), one local Redis (Debian's redis-server, started here), in the same run:
 *   sluice   distributed('io', { concurrency: 512 }) over the parts; output checked to be in input order
 *   bullmq   Queue.addBulk of the same 10,000 jobs to BullMQ Workers in the same worker processes,
 *            done when QueueEvents has seen 10,000 'completed' events (BullMQ returns no ordered output)
 * Reported: throughput, its fraction of the ideal (10,000 x 1 ms / 64 slots = 156 ms), Redis
 * commands per part (INFO stats, every client), and Redis memory at the end of each run.
 * Target: sluice throughput >= 3x BullMQ's.
 *
 * Both sides run compiled JavaScript, as users run them: BullMQ's published build, and ours built
 * here first (`pnpm build` of core, streams and processors into packages/\*\/dist), with the caller
 * and the workers resolving @sluice/* to dist/. BENCH_SOURCE=1 runs the TypeScript sources through
 * tsx instead (no build; for profiling with source positions).
 *
 *   pnpm exec tsx bench/distributed.ts      (BENCH_REPS=5, BENCH_WARMUP=3 by default)
 *
 * BENCH_ONLY=sluice|bullmq runs one subject and prints, per repetition, the CPU split by process,
 * Redis commands and system calls per part (sluice), the workers' average busy slots and the
 * machine's idle share; BENCH_CALLER_CONCURRENCY changes sluice's window (512).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Queue, QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import { BENCH_DIR, check, envInt, fmt, machine, median, ratio, report } from './harness.ts';

// Started with the workspace's source condition (pnpm sets it from .npmrc): build, then run this
// file again, and its workers, against the build.
const SOURCE_CONDITION = '--conditions=sluice-source';
if (process.env.BENCH_SOURCE !== '1' && process.env.NODE_OPTIONS?.includes(SOURCE_CONDITION)) {
  const root = join(BENCH_DIR, '..');
  const build = spawnSync(
    'pnpm',
    ['--filter', '@sluice/core', '--filter', '@sluice/streams', '--filter', '@sluice/processors', 'run', 'build'],
    { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] },
  );
  if (build.status !== 0) throw new Error(`pnpm build failed (exit ${build.status}); BENCH_SOURCE=1 runs the sources`);
  const NODE_OPTIONS = process.env.NODE_OPTIONS.replace(SOURCE_CONDITION, '').trim();
  const run = spawnSync(process.execPath, ['--import', 'tsx', join(BENCH_DIR, 'distributed.ts')], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, NODE_OPTIONS },
  });
  process.exit(run.status ?? 1);
}
const { distributed } = await import('@sluice/processors/redis');
const { startRedisServer } = await import('@sluice/processors/testing');

const PARTS = 10_000;
const WORKERS = 4;
const WORKER_CONCURRENCY = 16;
const CALLER_CONCURRENCY = envInt('BENCH_CALLER_CONCURRENCY', 512);
const IDEAL_MS = (PARTS * 1) / (WORKERS * WORKER_CONCURRENCY);
const REPS = envInt('BENCH_REPS', 5);
const WARMUP = envInt('BENCH_WARMUP', 3);
/** BENCH_ONLY=sluice|bullmq: run one subject alone and print its samples (for profiling; no report). */
const ONLY = process.env.BENCH_ONLY as 'sluice' | 'bullmq' | undefined;
if (ONLY !== undefined && ONLY !== 'sluice' && ONLY !== 'bullmq')
  throw new Error('BENCH_ONLY must be sluice or bullmq');

const server = await startRedisServer();
const url = new URL(server.url);

const connection = { host: url.hostname, port: Number(url.port), maxRetriesPerRequest: null };
const queue = new Queue('io', { connection });
const events = new QueueEvents('io', { connection });
await events.waitUntilReady();

const workers: ChildProcess[] = [];
// Whatever happens, the worker processes do not outlive this one.
process.on('exit', () => {
  for (const child of workers) child.kill('SIGKILL');
});
for (let w = 0; w < WORKERS; w++) {
  // BENCH_CPU_PROF=dir: each worker writes a V8 CPU profile there (node --cpu-prof) when it exits.
  const prof = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
  const child = spawn(process.execPath, [...prof, '--import', 'tsx', join(BENCH_DIR, 'distributed-worker.ts')], {
    env: { ...process.env, REDIS_URL: server.url, CONCURRENCY: String(WORKER_CONCURRENCY) },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  workers.push(child);
}
await Promise.all(
  workers.map(
    (child) =>
      new Promise<void>((resolve, reject) => {
        child.stdout!.on('data', (chunk: Buffer) => {
          if (String(chunk).includes('ready')) resolve();
        });
        child.once('exit', () => reject(new Error('a worker exited before it was ready')));
      }),
  ),
);

/** Redis's own counters (read with ioredis, BullMQ's driver, installed for this benchmark). */
const inspector = new Redis({ host: url.hostname, port: Number(url.port) });
/** CPU ms (user + system) of a process, from /proc (Linux). */
function cpuOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * (1000 / 100);
}
/** CPU ms of everything taking part: this process (the caller), the workers and redis-server. */
function cpuSplit(): { caller: number; workers: number; redis: number } {
  const own = process.cpuUsage();
  return {
    caller: (own.user + own.system) / 1000,
    workers: workers.reduce((sum, w) => sum + cpuOf(w.pid!), 0),
    redis: cpuOf(server.pid),
  };
}

/** Read and write system calls so far of a process (Linux /proc/PID/io), for BENCH_ONLY. */
function syscallsOf(pid: number | 'self'): { r: number; w: number } {
  const io = readFileSync(`/proc/${pid}/io`, 'utf8');
  return { r: Number(/syscr: (\d+)/.exec(io)![1]), w: Number(/syscw: (\d+)/.exec(io)![1]) };
}
/** User and system CPU ms of the workers, for BENCH_ONLY. */
function workersUserSystem(): { user: number; system: number } {
  let user = 0;
  let system = 0;
  for (const w of workers) {
    const fields = readFileSync(`/proc/${w.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    user += Number(fields[11]) * 10;
    system += Number(fields[12]) * 10;
  }
  return { user, system };
}
function syscallSplit(): Record<'caller' | 'workers' | 'redis', { r: number; w: number }> {
  const sum = (list: { r: number; w: number }[]) => ({
    r: list.reduce((n, x) => n + x.r, 0),
    w: list.reduce((n, x) => n + x.w, 0),
  });
  return {
    caller: syscallsOf('self'),
    workers: sum(workers.map((w) => syscallsOf(w.pid!))),
    redis: syscallsOf(server.pid),
  };
}

async function redisStats(): Promise<{ commands: number; memory: number }> {
  const stats = await inspector.info('stats');
  const memory = await inspector.info('memory');
  return {
    commands: Number(/total_commands_processed:(\d+)/.exec(stats)![1]),
    memory: Number(/used_memory:(\d+)/.exec(memory)![1]),
  };
}

interface Sample {
  ms: number;
  /** CPU ms of all processes over the run. */
  cpuMs: number;
  /** The same, per process kind. */
  split: { caller: number; workers: number; redis: number };
  commandsPerPart: number;
  memoryAtEnd: number;
}

const inputs = Array.from({ length: PARTS }, (_, i) => String(i));

/** Calls of each Redis command so far (INFO commandstats). */
async function commandCalls(): Promise<Map<string, number>> {
  const calls = new Map<string, number>();
  for (const m of (await inspector.info('commandstats')).matchAll(/cmdstat_([^:]+):calls=(\d+)/g)) {
    calls.set(m[1]!, Number(m[2]));
  }
  return calls;
}

/** Asks each worker for its slot occupancy in the last run of `subject` (see distributed-worker.ts). */
async function occupancy(subject: 'sluice' | 'bullmq'): Promise<string> {
  const traces = await Promise.all(
    workers.map(
      (w) =>
        new Promise<{ parts: number; busyMs: number; first: number; last: number }>((resolve) => {
          const on = (chunk: Buffer) => {
            const m = /stats (\{.*\})/.exec(String(chunk));
            if (!m) return;
            w.stdout!.off('data', on);
            resolve(JSON.parse(m[1]!));
          };
          w.stdout!.on('data', on);
          w.stdin!.write(`stats ${subject}\n`);
        }),
    ),
  );
  const each = traces.map((t) => fmt(t.busyMs / (t.last - t.first), 1));
  const mean = traces.reduce((sum, t) => sum + t.busyMs, 0) / traces.reduce((sum, t) => sum + t.parts, 0);
  return `slots busy on average (of ${WORKER_CONCURRENCY}) per worker: ${each.join(', ')}; mean job ${fmt(mean, 2)} ms`;
}

/** Jiffies (user, system, idle...) of the whole machine so far, from /proc/stat. */
function machineTicks(): number[] {
  return readFileSync('/proc/stat', 'utf8').split('\n')[0]!.split(/\s+/).slice(1).map(Number);
}
function idleShare(t0: number[], t1: number[]): string {
  const d = t1.map((v, k) => v - t0[k]!);
  const total = d.reduce((a, b) => a + b, 0);
  return `machine idle ${fmt((d[3]! / total) * 100, 0)}% of the run (/proc/stat)`;
}

async function runSluice(): Promise<Sample> {
  const calls0 = ONLY ? await commandCalls() : undefined;
  const sys0 = ONLY ? syscallSplit() : undefined;
  const us0 = ONLY ? workersUserSystem() : undefined;
  const before = await redisStats();
  const cpu0 = cpuSplit();
  const remote = distributed('io', { redis: server.url, concurrency: CALLER_CONCURRENCY });
  const ticks0 = machineTicks();
  const started = performance.now();
  let next = 0;
  for await (const part of remote(inputs)) {
    if (part.text !== String(next)) throw new Error(`out of order: expected ${next}, got ${part.text}`);
    next++;
  }
  const ms = performance.now() - started;
  const ticks1 = machineTicks();
  if (next !== PARTS) throw new Error(`expected ${PARTS} outputs, got ${next}`);
  const cpu1 = cpuSplit();
  const split = {
    caller: cpu1.caller - cpu0.caller,
    workers: cpu1.workers - cpu0.workers,
    redis: cpu1.redis - cpu0.redis,
  };
  const cpuMs = split.caller + split.workers + split.redis;
  const after = await redisStats();
  if (calls0) {
    const perPart = [...(await commandCalls())]
      .map(([name, n]) => [name, (n - (calls0.get(name) ?? 0)) / PARTS] as const)
      .filter(([, n]) => n >= 0.005)
      .map(([name, n]) => `${name} ${n.toFixed(2)}`);
    console.log(`Redis commands per part: ${perPart.join(', ')}`);
    const sys1 = syscallSplit();
    const per = (k: 'caller' | 'workers' | 'redis') =>
      `${k} ${((sys1[k].r - sys0![k].r) / PARTS).toFixed(2)} / ${((sys1[k].w - sys0![k].w) / PARTS).toFixed(2)}`;
    console.log(`read / write system calls per part: ${per('caller')}, ${per('workers')}, ${per('redis')}`);
    const us1 = workersUserSystem();
    console.log(`${await occupancy('sluice')}; ${idleShare(ticks0, ticks1)}`);
    console.log(
      `workers CPU µs / part: user ${fmt(((us1.user - us0!.user) * 1000) / PARTS, 0)}, system ${fmt(((us1.system - us0!.system) * 1000) / PARTS, 0)}`,
    );
  }
  return { ms, cpuMs, split, commandsPerPart: (after.commands - before.commands) / PARTS, memoryAtEnd: after.memory };
}

async function runBullMQ(): Promise<Sample> {
  const before = await redisStats();
  const ticks0 = machineTicks();
  const cpu0 = cpuSplit();
  let completed = 0;
  let resolveAll!: () => void;
  const all = new Promise<void>((resolve) => (resolveAll = resolve));
  const onCompleted = () => {
    if (++completed === PARTS) resolveAll();
  };
  events.on('completed', onCompleted);
  const started = performance.now();
  const jobs = inputs.map((i) => ({
    name: 'io',
    data: { i },
    opts: { removeOnComplete: true, removeOnFail: true },
  }));
  for (let k = 0; k < jobs.length; k += 1000) await queue.addBulk(jobs.slice(k, k + 1000));
  await all;
  const ms = performance.now() - started;
  events.off('completed', onCompleted);
  const ticks1 = machineTicks();
  const cpu1 = cpuSplit();
  if (ONLY) console.log(`${await occupancy('bullmq')}; ${idleShare(ticks0, ticks1)}`);
  const split = {
    caller: cpu1.caller - cpu0.caller,
    workers: cpu1.workers - cpu0.workers,
    redis: cpu1.redis - cpu0.redis,
  };
  const cpuMs = split.caller + split.workers + split.redis;
  const after = await redisStats();
  return { ms, cpuMs, split, commandsPerPart: (after.commands - before.commands) / PARTS, memoryAtEnd: after.memory };
}

const samples: Record<'sluice' | 'bullmq', Sample[]> = { sluice: [], bullmq: [] };
const ratios: number[] = [];
const cpuRatios: number[] = [];
for (let rep = 0; rep < WARMUP + REPS; rep++) {
  // Alternate which goes first.
  const order = rep % 2 === 0 ? (['sluice', 'bullmq'] as const) : (['bullmq', 'sluice'] as const);
  const round: Partial<Record<'sluice' | 'bullmq', Sample>> = {};
  for (const name of order) {
    if (ONLY && name !== ONLY) continue;
    round[name] = name === 'sluice' ? await runSluice() : await runBullMQ();
  }
  if (ONLY) {
    console.log(
      `${rep < WARMUP ? 'warm-up' : `rep ${rep - WARMUP + 1}`}: ${ONLY} ${fmt(round[ONLY]!.ms)} ms, CPU µs / part ${fmt((round[ONLY]!.cpuMs * 1000) / PARTS, 0)} (caller ${fmt((round[ONLY]!.split.caller * 1000) / PARTS, 0)}, workers ${fmt((round[ONLY]!.split.workers * 1000) / PARTS, 0)}, redis ${fmt((round[ONLY]!.split.redis * 1000) / PARTS, 0)})`,
    );
    continue;
  }
  const label = rep < WARMUP ? 'warm-up' : `rep ${rep - WARMUP + 1}`;
  console.log(`${label}: sluice ${fmt(round.sluice!.ms)} ms, bullmq ${fmt(round.bullmq!.ms)} ms`);
  if (rep < WARMUP) continue;
  samples.sluice.push(round.sluice!);
  samples.bullmq.push(round.bullmq!);
  ratios.push(round.bullmq!.ms / round.sluice!.ms);
  cpuRatios.push(round.bullmq!.cpuMs / round.sluice!.cpuMs);
}

if (ONLY) {
  for (const child of workers) child.kill('SIGTERM');
  await Promise.all(workers.map((child) => (child.exitCode === null ? once(child, 'exit') : undefined)));
  await Promise.all([queue.close(), events.close()]);
  inspector.disconnect();
  await server.close();
  process.exit(0);
}
const sluiceMs = median(samples.sluice.map((s) => s.ms));
const bullMs = median(samples.bullmq.map((s) => s.ms));
const speedup = median(ratios);
const row = (name: string, s: Sample[], ms: number, ordered: string) => [
  name,
  fmt(ms),
  fmt(PARTS / (ms / 1000), 0),
  `${fmt((IDEAL_MS / ms) * 100, 1)}%`,
  fmt((median(s.map((x) => x.cpuMs)) * 1000) / PARTS, 0),
  fmt(median(s.map((x) => x.commandsPerPart))),
  fmt(s.at(-1)!.memoryAtEnd / 1024 / 1024, 2),
  ordered,
];
report({
  scenario: 'distributed',
  title: `Scenario: distributed, ${fmt(PARTS, 0)} parts x 1 ms on ${WORKERS} worker processes x ${WORKER_CONCURRENCY} (median of ${REPS} interleaved reps)`,
  table: [
    [
      'subject',
      'ms',
      'parts/s',
      'of ideal',
      'CPU µs / part (all processes)',
      'Redis commands / part',
      'Redis MiB at end',
      'ordered output',
    ],
    row('sluice distributed', samples.sluice, sluiceMs, 'yes (checked)'),
    row('BullMQ', samples.bullmq, bullMs, 'no'),
    ['sluice / BullMQ throughput', ratio(speedup), '', '', ratio(median(cpuRatios)), '', '', ''],
  ],
  checks: [check('sluice throughput / BullMQ throughput', speedup, '>=', 3, 'x')],
  notes: [
    `ideal = ${fmt(PARTS, 0)} x 1 ms / ${WORKERS * WORKER_CONCURRENCY} slots = ${fmt(IDEAL_MS)} ms; caller concurrency ${CALLER_CONCURRENCY}`,
    'ratio = median of per-repetition ratios (each repetition runs both, alternating which goes first)',
    'CPU µs / part: user + system time of the caller, the 4 workers and redis-server over the run, per part; its ratio (BullMQ / sluice) is steadier than wall time on a loaded machine',
    ...(['sluice', 'bullmq'] as const).map((name) => {
      const per = (k: 'caller' | 'workers' | 'redis') =>
        fmt((median(samples[name].map((x) => x.split[k])) * 1000) / PARTS, 0);
      return `CPU µs / part of ${name}: caller ${per('caller')}, 4 workers ${per('workers')}, redis-server ${per('redis')} (medians)`;
    }),
    'Redis commands / part counts every client command (Lua scripts count as one); node-redis pipelines the commands of one event-loop turn into one write',
  ],
  meta: { ...machine(), parts: PARTS, workers: WORKERS, workerConcurrency: WORKER_CONCURRENCY, samples },
});

for (const child of workers) child.kill('SIGTERM');
await Promise.all(workers.map((child) => (child.exitCode === null ? once(child, 'exit') : undefined)));
await Promise.all([queue.close(), events.close()]);
inspector.disconnect();
await server.close();
