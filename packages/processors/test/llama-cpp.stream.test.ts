import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { part, textPart } from '@sluice/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configOf, LocalModelError, llamaCpp, MissingPackageError, UnsupportedPartError } from '../src/index.ts';
import { importLlamaCpp } from '../src/models/llama-cpp-runtime.ts';
import { writeTinyGGUF } from '../src/testing/index.ts';

let dir: string;
let modelPath: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-llama-'));
  modelPath = join(dir, 'tiny.gguf');
  await writeTinyGGUF(modelPath, { seed: 7 });
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('writeTinyGGUF', () => {
  it('writes a GGUF v3 file of a few hundred KB, the same bytes for the same seed', async () => {
    const again = join(dir, 'again.gguf');
    const other = join(dir, 'other.gguf');
    await writeTinyGGUF(again, { seed: 7 });
    await writeTinyGGUF(other, { seed: 8 });
    const [a, b, c] = await Promise.all([readFile(modelPath), readFile(again), readFile(other)]);
    expect(a.subarray(0, 4).toString('latin1')).toBe('GGUF');
    expect(a.readUInt32LE(4)).toBe(3);
    expect(a.length).toBeGreaterThan(100_000);
    expect(a.length).toBeLessThan(1_000_000);
    expect(a.equals(b)).toBe(true);
    expect(a.equals(c)).toBe(false);
    const bigger = join(dir, 'four.gguf');
    await writeTinyGGUF(bigger, { blocks: 4 });
    expect((await stat(bigger)).size).toBeGreaterThan(a.length);
  });

  it('refuses a bad block count before writing anything', async () => {
    const path = join(dir, 'bad.gguf');
    await expect(writeTinyGGUF(path, { blocks: 0 })).rejects.toThrow(RangeError);
    await expect(stat(path)).rejects.toThrow();
  });
});

describe('llamaCpp on the tiny model', () => {
  it('streams text parts then a status part with usage and finish reason', async () => {
    await using model = llamaCpp({ modelPath, threads: 1, contextSize: 256, maxTokens: 16, temperature: 0.8, seed: 3 });
    const parts = await model([textPart('Hello there', { role: 'user' })]).gather();
    const status = parts.at(-1)!;
    const text = parts.slice(0, -1);
    expect(text.length).toBeGreaterThan(0);
    for (const p of text) {
      expect(p.role).toBe('model');
      expect(p.substream).toBe('');
      expect(typeof p.text).toBe('string');
    }
    expect(status.substream).toBe('status');
    const meta = status.metadata as { finishReason: string; usage: { inputTokens: number; outputTokens: number } };
    // The tiny model never samples its end token, so every answer runs to maxTokens.
    expect(meta.finishReason).toBe('length');
    expect(meta.usage.outputTokens).toBe(16);
    // The byte vocabulary spells 'Hello there' as 11 tokens, plus the chat template's.
    expect(meta.usage.inputTokens).toBeGreaterThan(11);
  });

  it('gives the same answer for the same seed', async () => {
    await using model = llamaCpp({ modelPath, threads: 1, contextSize: 256, maxTokens: 12, temperature: 0.8, seed: 5 });
    const first = (await model('Same seed').gather()).map((p) => p.text ?? '').join('');
    const second = (await model('Same seed').gather()).map((p) => p.text ?? '').join('');
    expect(second).toBe(first);
    expect(configOf(model)).toMatchObject({ provider: 'llama-cpp', model: 'tiny.gguf', seed: 5 });
  });

  it('takes concurrent runs in turn, in arrival order', async () => {
    await using model = llamaCpp({ modelPath, threads: 1, contextSize: 256, maxTokens: 8 });
    const events: string[] = [];
    const run = async (label: string) => {
      let first = true;
      for await (const p of model(label)) {
        if (first) events.push(`${label}:start`);
        first = false;
        if (p.substream === 'status') events.push(`${label}:end`);
      }
    };
    await Promise.all([run('a'), run('b'), run('c')]);
    expect(events).toEqual(['a:start', 'a:end', 'b:start', 'b:end', 'c:start', 'c:end']);
  });

  it('stops within a few tokens when the signal aborts, and the next run still works', async () => {
    await using model = llamaCpp({ modelPath, threads: 1, contextSize: 512, maxTokens: 400 });
    const controller = new AbortController();
    const reason = new Error('enough');
    let tokens = 0;
    await expect(
      (async () => {
        for await (const p of model('Stop me', { signal: controller.signal })) {
          if (p.substream === '') tokens++;
          if (tokens === 3) controller.abort(reason);
        }
      })(),
    ).rejects.toBe(reason);
    expect(tokens).toBeLessThan(12);
    const after = await model('Again').gather();
    expect(after.at(-1)?.substream).toBe('status');
  });

  it('stops on break, frees the turn, and close() can be called twice', async () => {
    const model = llamaCpp({ modelPath, threads: 1, contextSize: 512, maxTokens: 400 });
    let tokens = 0;
    for await (const p of model('Break me')) {
      if (p.substream === '') tokens++;
      if (tokens === 2) break;
    }
    expect(tokens).toBe(2);
    const next = await model('Next').gather();
    expect(next.at(-1)?.substream).toBe('status');
    await model.close();
    await model.close();
  });

  it('close() stops a run in flight', async () => {
    const model = llamaCpp({ modelPath, threads: 1, contextSize: 512, maxTokens: 400 });
    let tokens = 0;
    const run = (async () => {
      for await (const p of model('Closing')) {
        if (p.substream === '') tokens++;
        if (tokens === 2) void model.close();
      }
    })();
    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
    expect(tokens).toBeLessThan(12);
  });

  it('continues a trailing model turn (prefill) and sends system parts first', async () => {
    await using model = llamaCpp({ modelPath, threads: 1, contextSize: 256, maxTokens: 4 });
    const parts = await model([
      textPart('Be brief', { role: 'system' }),
      textPart('Hi', { role: 'user' }),
      textPart('Sure', { role: 'model' }),
    ]).gather();
    expect(parts.at(-1)?.substream).toBe('status');
  });

  it('rejects parts it cannot send with UnsupportedPartError', async () => {
    await using model = llamaCpp({ modelPath, threads: 1, contextSize: 256, maxTokens: 4 });
    const image = part(new Uint8Array([1, 2, 3]), { mimetype: 'image/png' });
    await expect(model([textPart('look'), image]).gather()).rejects.toBeInstanceOf(UnsupportedPartError);
  });

  it('fails with LocalModelError for a file that is not a model, and tries again next run', async () => {
    const bad = join(dir, 'not-a-model.gguf');
    await import('node:fs/promises').then((fs) => fs.writeFile(bad, 'not a model'));
    await using model = llamaCpp({ modelPath: bad, threads: 1 });
    const error = await model('x')
      .gather()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LocalModelError);
    expect(error).toMatchObject({ code: 'E_LOCAL_MODEL' });
    await expect(model('x').gather()).rejects.toBeInstanceOf(LocalModelError);
  });

  it('checks its options when it is made', () => {
    expect(() => llamaCpp({ modelPath: '' })).toThrow(TypeError);
    expect(() => llamaCpp({ modelPath, threads: 0 })).toThrow(RangeError);
    expect(() => llamaCpp({ modelPath, maxTokens: 1.5 })).toThrow(RangeError);
  });
});

describe('node-llama-cpp missing', () => {
  it('names the package to install', async () => {
    const missing = Object.assign(new Error("Cannot find package 'node-llama-cpp' imported from x"), {
      code: 'ERR_MODULE_NOT_FOUND',
    });
    const error = await importLlamaCpp(() => Promise.reject(missing)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MissingPackageError);
    expect(error).toMatchObject({ code: 'E_MISSING_PACKAGE', packageName: 'node-llama-cpp' });
    expect((error as Error).message).toContain('node-llama-cpp@3.21.1');
    expect((error as MissingPackageError).hint).toContain('npm install node-llama-cpp@3.21.1');
  });

  it('lets other import failures through unchanged', async () => {
    const other = new SyntaxError('broken');
    await expect(importLlamaCpp(() => Promise.reject(other))).rejects.toBe(other);
  });
});
