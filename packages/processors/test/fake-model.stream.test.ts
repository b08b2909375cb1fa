// fakeModel: deterministic in-process replies, per-part delays driven by fake
// timers, usage on a final status part, and prompt stopping.

import { type Part, textPart } from '@sluice/core';
import { collectTimed } from '@sluice/core/testing';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { fakeModel } from '../src/models/fake.ts';

afterEach(() => {
  vi.useRealTimers();
});

describe('fakeModel', () => {
  it('streams a string reply word by word as model text parts, then a status part with usage', async () => {
    const parts = await fakeModel({ reply: 'Hello brave new world' })('one two three').gather();
    expect(parts.filter((p) => p.substream === '').map((p) => p.text)).toEqual(['Hello', ' brave', ' new', ' world']);
    expect(parts.filter((p) => p.substream === '').every((p) => p.role === 'model')).toBe(true);
    const status = parts.at(-1)!;
    expect(status.substream).toBe('status');
    expect(status.metadata).toMatchObject({ finishReason: 'stop', usage: { inputTokens: 3, outputTokens: 4 } });
  });

  it('streams an array reply one element per part', async () => {
    const model = fakeModel({ reply: ['a', 'b c', ''] });
    expect((await model('x').gather()).filter((p) => p.substream === '').map((p) => p.text)).toEqual(['a', 'b c', '']);
  });

  it('computes the reply from the input parts', async () => {
    const model = fakeModel({ reply: (input: Part[]) => `echo: ${input.map((p) => p.text).join('|')}` });
    expect(await model([textPart('a'), textPart('b')]).text()).toBe('echo: a|b');
  });

  it('waits firstDelayMs before the first part and delayMs before each next one (fake timers)', async () => {
    vi.useFakeTimers();
    const timed = collectTimed(fakeModel({ reply: ['a', 'b', 'c'], firstDelayMs: 300, delayMs: 100 })('x'));
    await vi.runAllTimersAsync();
    const parts = await timed;
    expect(parts.filter((t) => t.part.substream === '').map((t) => [t.part.text, t.at])).toEqual([
      ['a', 300],
      ['b', 400],
      ['c', 500],
    ]);
  });

  it('delays the first part by delayMs when firstDelayMs is not given', async () => {
    vi.useFakeTimers();
    const timed = collectTimed(fakeModel({ reply: ['a', 'b'], delayMs: 50 })('x'));
    await vi.runAllTimersAsync();
    expect((await timed).filter((t) => t.part.substream === '').map((t) => t.at)).toEqual([50, 100]);
  });

  it('leaves no timer behind when the consumer stops after the first part', async () => {
    vi.useFakeTimers();
    const seen: string[] = [];
    const consuming = (async () => {
      for await (const p of fakeModel({ reply: ['a', 'b'], delayMs: 1000 })('x')) {
        seen.push(p.text ?? '');
        break;
      }
    })();
    await vi.advanceTimersByTimeAsync(1000);
    await consuming;
    expect(seen).toEqual(['a']);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('rejects with the caller abort reason while waiting, and clears its timer', async () => {
    vi.useFakeTimers();
    const controller = new AbortController();
    const reason = new Error('stop');
    const run = fakeModel({ reply: ['a'], delayMs: 1000 })('x', { signal: controller.signal }).gather();
    await vi.advanceTimersByTimeAsync(10);
    controller.abort(reason);
    await expect(run).rejects.toBe(reason);
    expect(vi.getTimerCount()).toBe(0);
  });
});
