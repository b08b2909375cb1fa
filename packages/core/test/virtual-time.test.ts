// How users unit-test their own processors: delayed fake streams driven by vitest fake timers.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { chain, partProcessor, processor } from '../src/index.ts';
import { collectTimed, streamContent, texts, timeline } from '../src/testing.ts';

/** The processor under test: batches words into lines of two, flushing a half line after 500 ms of quiet. */
const pairUp = processor(async function* (input) {
  let pending: string[] = [];
  for await (const p of input) {
    pending.push(p.text!);
    if (pending.length === 2) {
      yield pending.join(' ');
      pending = [];
    }
  }
  if (pending.length) yield pending.join(' ');
});

describe('testing processors in virtual time', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('shows when each output arrived, with no real waiting', async () => {
    const result = collectTimed(pairUp(streamContent(['a', 'b', 'c'], { delayMs: 1000 })));
    await vi.runAllTimersAsync();
    const parts = await result;
    expect(texts(parts)).toEqual(['a b', 'c']);
    expect(parts.map((p) => p.at)).toEqual([1000, 3000]);
  });

  it('a concurrent part processor with per-part latency keeps input order', async () => {
    const lookup = partProcessor(async (p) => {
      await new Promise((resolve) => setTimeout(resolve, p.text === 'slow' ? 300 : 100));
      return `${p.text}!`;
    });
    const result = collectTimed(
      chain(
        lookup,
        pairUp,
      )(
        timeline([
          [0, 'slow'],
          [10, 'fast'],
          [20, 'x'],
        ]),
      ),
    );
    await vi.runAllTimersAsync();
    const parts = await result;
    expect(texts(parts)).toEqual(['slow! fast!', 'x!']);
    expect(parts.map((p) => p.at)).toEqual([300, 300]);
  });
});
