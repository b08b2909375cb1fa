/**
 * An in-process model: a tiny random-weight llama model written by `writeTinyGGUF`, run by
 * llama.cpp through `createLLM('llama-cpp')`, streamed token by token while a 1 ms timer keeps
 * ticking, because inference runs on llama.cpp's native threads and not on the event loop.
 *
 * Shows: `createLLM('llama-cpp', { modelPath, threads, maxTokens })`, the same parts as the HTTP
 * models (text tokens, then a status part with `usage` and `finishReason`), the model loaded on
 * the first call and freed by `close()`. The answer is gibberish (the weights are random); point
 * `modelPath` at a real GGUF file for real answers. Needs node-llama-cpp (a devDependency here).
 * Run: `pnpm exec tsx examples/local-model.ts`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeTinyGGUF } from '@sluice/processors/testing';
import { createLLM } from '@sluice/sdk';

/** Prints one line per event; `log` is replaceable so the test can read the output. */
export async function main(log: (line: string) => void = console.log): Promise<{ ticks: number; tokens: number }> {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-local-model-'));
  const modelPath = join(dir, 'tiny.gguf');
  await writeTinyGGUF(modelPath, { seed: 42 });
  const llm = createLLM('llama-cpp', { modelPath, threads: 1, contextSize: 512, maxTokens: 64, seed: 1 });
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  let tokens = 0;
  let ticksAtFirstToken = 0;
  try {
    for await (const part of llm.stream('Write a haiku about sluices.')) {
      if (part.substream === 'status') {
        const { usage, finishReason } = part.metadata as {
          usage: { inputTokens: number; outputTokens: number };
          finishReason: string;
        };
        log(`done: ${finishReason}, ${usage.inputTokens} input and ${usage.outputTokens} output tokens`);
      } else if (part.substream === '') {
        if (tokens === 0) ticksAtFirstToken = ticks;
        tokens++;
        log(`token ${JSON.stringify(part.text)} (timer ticks so far: ${ticks})`);
      }
    }
  } finally {
    clearInterval(timer);
    await llm.close();
    await rm(dir, { recursive: true, force: true });
  }
  const during = ticks - ticksAtFirstToken;
  log(`the timer ticked ${during} times while ${tokens} tokens were generated`);
  return { ticks: during, tokens };
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
