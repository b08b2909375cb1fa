import type { AsyncIterableX } from '@reactivex/ix-esnext-esm/Ix.asynciterable';
import { concat, streamContent } from '@sluice/streams';
import type { Part, PartLike } from './part.ts';

export { type BlockedStream, blockedStream, endlessStream, streamContent, tracked } from '@sluice/streams/testing';

/** A part and the time it reached the consumer, in ms since collecting started (virtual time under fake timers). */
export interface TimedPart {
  readonly part: Part;
  readonly at: number;
}

/**
 * Collects a stream with the time each part arrived, measured with `Date.now()`, which vitest's
 * fake timers control: start it, advance the clock (`vi.runAllTimersAsync()`), then await it.
 */
export async function collectTimed(stream: AsyncIterable<Part>): Promise<TimedPart[]> {
  const start = Date.now();
  const out: TimedPart[] = [];
  for await (const part of stream) out.push({ part, at: Date.now() - start });
  return out;
}

/** The texts of parts (default substream only unless `all`), for short assertions. */
export function texts(parts: Iterable<Part | TimedPart>, options: { all?: boolean } = {}): string[] {
  const out: string[] = [];
  for (const item of parts) {
    const p = 'part' in item ? item.part : item;
    if ((options.all || p.substream === '') && p.text !== undefined) out.push(p.text);
  }
  return out;
}

/**
 * Yields each item at its own virtual time: `timeline([[0, 'a'], [100, 'b']])` yields 'a' at once
 * and 'b' 100 ms after the start (global `setTimeout`, so fake timers drive it).
 */
export function timeline<T extends PartLike>(events: Iterable<readonly [atMs: number, item: T]>): AsyncIterableX<T> {
  // All sources start together, so each waits its own absolute time; concat keeps their order.
  const sorted = [...events].sort((a, b) => a[0] - b[0]);
  return concat(
    ...sorted.map(([at, item]) =>
      streamContent([item], { delayMs: Math.max(0, at), delayFirst: true, delayEnd: false }),
    ),
  );
}
