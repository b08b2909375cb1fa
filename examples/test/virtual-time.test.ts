import { jsonPart } from '@sluice/core';
import { collectTimed, streamContent, texts, timeline, tracked } from '@sluice/core/testing';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { main, wordBatcher } from '../word-batcher.ts';

// Every delay here is virtual: vitest's fake timers drive setTimeout and Date.now, so each test
// runs in a few milliseconds of real time and the arrival times are exact.

afterEach(() => {
  vi.useRealTimers();
});

/** [text, virtual ms] of each output part. */
async function run(promise: Promise<Awaited<ReturnType<typeof collectTimed>>>) {
  await vi.runAllTimersAsync();
  return (await promise).map(({ part, at }) => [part.text, at] as const);
}

describe('wordBatcher in virtual time (examples/word-batcher.ts)', () => {
  it('emits a phrase the moment its last word completes, without waiting for a pause', async () => {
    vi.useFakeTimers();
    const input = streamContent(['a', ' b', ' c', ' d', ' e'], { delayMs: 100 });
    const result = collectTimed(wordBatcher({ maxWords: 2, idleMs: 1000 })(input));
    // 'b' is complete when ' c' arrives (200 ms), 'd' when ' e' arrives (400 ms); the rest at the end (500 ms).
    expect(await run(result)).toEqual([
      ['a b', 200],
      [' c d', 400],
      [' e', 500],
    ]);
  });

  it('flushes after idleMs without input, then goes on', async () => {
    vi.useFakeTimers();
    const input = timeline([
      [0, 'Hello'],
      [50, ' there,'],
      [1000, ' how'],
      [1050, ' are'],
      [1100, ' you?'],
    ]);
    const result = collectTimed(wordBatcher({ maxWords: 5, idleMs: 300 })(input));
    expect(await run(result)).toEqual([
      ['Hello there,', 350],
      [' how are you?', 1100],
    ]);
  });

  it('keeps the text exact and passes non-text parts through in their place', async () => {
    vi.useFakeTimers();
    const input = streamContent(['one two', jsonPart({ tool: 'search' }), ' three four five'], { delayMs: 10 });
    const result = collectTimed(wordBatcher({ maxWords: 2, idleMs: 1000 })(input));
    await vi.runAllTimersAsync();
    const parts = (await result).map((p) => p.part);
    expect(parts.map((p) => p.text)).toEqual(['one two', '{"tool":"search"}', ' three four', ' five']);
    expect(parts[1]!.mimetype).toBe('application/json');
    expect(texts(parts).join('')).toBe('one two{"tool":"search"} three four five');
    expect(parts.map((p) => p.metadata.words)).toEqual([2, undefined, 2, 1]);
  });

  it('stops its source and leaves no timer behind when the consumer stops early', async () => {
    vi.useFakeTimers();
    const source = tracked(['a', ' b', ' c'], { delayMs: 100 });
    const seen: string[] = [];
    const consumed = (async () => {
      for await (const part of wordBatcher({ maxWords: 1, idleMs: 50 })(source)) {
        seen.push(part.text!);
        break;
      }
    })();
    await vi.runAllTimersAsync();
    await consumed;
    expect(seen).toEqual(['a']);
    expect(source.tracker.returned).toBe(true);
    expect(source.tracker.closed).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('can be stopped during a pause, while a read is pending', async () => {
    vi.useFakeTimers();
    const seen: [string, number][] = [];
    const start = Date.now();
    const consumed = (async () => {
      const input = streamContent(['a', ' b'], { delayMs: 1000 });
      for await (const part of wordBatcher({ idleMs: 100 })(input)) {
        seen.push([part.text!, Date.now() - start]);
        break;
      }
    })();
    await vi.runAllTimersAsync();
    await consumed;
    expect(seen).toEqual([['a', 100]]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('checks its options', () => {
    expect(() => wordBatcher({ maxWords: 0 })).toThrow(RangeError);
    expect(() => wordBatcher({ idleMs: 0 })).toThrow(RangeError);
  });

  it('the runnable example prints each phrase at its exact virtual time', async () => {
    vi.useFakeTimers();
    const lines: string[] = [];
    const done = main((line) => lines.push(line));
    await vi.runAllTimersAsync();
    await done;
    expect(lines).toEqual([
      ' 160 ms  "Sluice gates hold water"',
      ' 360 ms  " back"',
      ' 920 ms  " (thinking...) and let it"',
      '1040 ms  " through on demand."',
    ]);
  });
});
