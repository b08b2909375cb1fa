import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeTinyGGUF } from '@sluice/processors/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClosedError, ConfigError, createLLM } from '../src/index.ts';

let dir: string;
let modelPath: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-sdk-llama-'));
  modelPath = join(dir, 'tiny.gguf');
  await writeTinyGGUF(modelPath);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("createLLM('llama-cpp')", () => {
  it('generates in process with usage and a finish reason', async () => {
    await using llm = createLLM('llama-cpp', { modelPath, threads: 1, contextSize: 256, maxTokens: 8 });
    expect(llm.provider).toBe('llama-cpp');
    expect(llm.model).toBe('tiny.gguf');
    const result = await llm.generate('Hello', { system: 'Answer in bytes' });
    expect(result.text.length).toBeGreaterThan(0);
    expect(result.finishReason).toBe('length');
    expect(result.usage).toMatchObject({ outputTokens: 8 });
    expect(result.usage!.inputTokens).toBeGreaterThan(5);
  });

  it('keeps a session on the same loaded model', async () => {
    await using llm = createLLM('llama-cpp', { modelPath, threads: 1, contextSize: 512, maxTokens: 4 });
    const session = llm.session();
    await session.generate('one');
    await session.generate('two');
    expect(session.history.map((p) => p.role)).toEqual(['user', 'model', 'user', 'model']);
  });

  it('close() stops a call in flight with ClosedError and refuses new ones', async () => {
    const llm = createLLM('llama-cpp', { modelPath, threads: 1, contextSize: 512, maxTokens: 400 });
    let tokens = 0;
    const run = (async () => {
      for await (const p of llm.stream('Go on')) {
        if (p.substream === '') tokens++;
        if (tokens === 2) void llm.close();
      }
    })();
    await expect(run).rejects.toBeInstanceOf(ClosedError);
    expect(tokens).toBeLessThan(12);
    expect(() => llm.stream('again')).toThrow(ClosedError);
  });

  it('needs a modelPath', () => {
    expect(() => createLLM('llama-cpp', { modelPath: '' })).toThrow(ConfigError);
  });
});
