// Inference runs on llama.cpp's native threads: a 1 ms interval keeps firing while tokens are
// generated. Run in the 'timing' project (alone), since it reads the clock.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { llamaCpp } from '../src/index.ts';
import { writeTinyGGUF } from '../src/testing/index.ts';

let dir: string;
let modelPath: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-llama-loop-'));
  modelPath = join(dir, 'tiny.gguf');
  await writeTinyGGUF(modelPath, { blocks: 8, seed: 2 });
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

it('a 1 ms interval keeps firing during generation', async () => {
  await using model = llamaCpp({ modelPath, threads: 1, contextSize: 512, maxTokens: 300, temperature: 0.8, seed: 1 });
  await model('warm up').gather(); // loads the model: file reads, not generation
  const ticks: number[] = [];
  const interval = setInterval(() => ticks.push(performance.now()), 1);
  let first = 0;
  let last = 0;
  let tokens = 0;
  try {
    for await (const p of model('Tick while you think')) {
      if (p.substream !== '') continue;
      tokens++;
      if (tokens === 1) first = performance.now();
      last = performance.now();
    }
  } finally {
    clearInterval(interval);
  }
  const during = ticks.filter((t) => t > first && t < last);
  // Generating blocks nothing: ticks interleave with the tokens, and the loop is never held for
  // as long as the whole generation took.
  expect(tokens).toBeGreaterThan(20);
  expect(during.length).toBeGreaterThan(5);
  let longest = 0;
  for (let i = 1; i < during.length; i++) longest = Math.max(longest, during[i]! - during[i - 1]!);
  expect(longest).toBeLessThan((last - first) / 2);
});
