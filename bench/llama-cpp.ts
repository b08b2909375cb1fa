/**
 * Local models benchmark 1: llamaCpp on the tiny random model (writeTinyGGUF, 2 blocks, 64 dims,
 * threads: 1): tokens per second, and the largest event-loop stall while tokens are generated,
 * next to the largest stall of an idle wait of the same length in the same run (the baseline:
 * what timers on this shared machine see anyway).
 *
 *   pnpm exec tsx bench/llama-cpp.ts              (BENCH_REPS, BENCH_LLAMA_TOKENS)
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { llamaCpp } from '@sluice/processors';
import { writeTinyGGUF } from '@sluice/processors/testing';
import { check, envInt, fmt, isMain, machine, median, ratio, report, type ScenarioResult } from './harness.ts';

async function stall(run: () => Promise<void>): Promise<{ ms: number; maxStallMs: number }> {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  const start = performance.now();
  await run();
  const ms = performance.now() - start;
  histogram.disable();
  return { ms, maxStallMs: histogram.max / 1e6 };
}

export async function main(): Promise<ScenarioResult> {
  const reps = envInt('BENCH_REPS', 7);
  const tokens = envInt('BENCH_LLAMA_TOKENS', 256);
  const dir = await mkdtemp(join(tmpdir(), 'sluice-bench-llama-'));
  const modelPath = join(dir, 'tiny.gguf');
  await writeTinyGGUF(modelPath);
  const model = llamaCpp({ modelPath, threads: 1, contextSize: 1024, maxTokens: tokens, temperature: 0.8, seed: 1 });
  const rates: number[] = [];
  const stalls: number[] = [];
  const idleStalls: number[] = [];
  try {
    await model('warm up').gather();
    for (let r = 0; r < reps; r++) {
      let produced = 0;
      const generation = await stall(async () => {
        for await (const p of model(`Prompt ${r}`)) {
          if (p.substream === 'status')
            produced = (p.metadata as { usage: { outputTokens: number } }).usage.outputTokens;
        }
      });
      const idle = await stall(() => new Promise((resolve) => setTimeout(resolve, generation.ms)));
      rates.push(produced / (generation.ms / 1000));
      stalls.push(generation.maxStallMs);
      idleStalls.push(idle.maxStallMs);
    }
  } finally {
    await model.close();
    await rm(dir, { recursive: true, force: true });
  }
  const rate = median(rates);
  const worst = median(stalls);
  const idle = median(idleStalls);
  const result: ScenarioResult = {
    scenario: 'llama-cpp',
    title: `Local models 1: llamaCpp on the tiny model, ${tokens} tokens, threads 1, median of ${reps} reps`,
    table: [
      ['tokens/s', 'largest stall, generating (ms)', 'largest stall, idle wait (ms)', 'generating / idle'],
      [fmt(rate, 0), fmt(worst), fmt(idle), ratio(worst / idle)],
    ],
    checks: [check('largest event-loop stall while generating', worst, '<=', 20, 'ms')],
    notes: ['stall = the event-loop delay histogram (1 ms resolution) maximum over the run'],
    meta: { ...machine(), reps, tokens, rates, stalls, idleStalls },
  };
  report(result);
  return result;
}

if (isMain(import.meta.url)) await main();
