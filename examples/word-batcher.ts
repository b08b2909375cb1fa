/**
 * A processor of your own whose behaviour depends on time, and how to test it without waiting:
 * `wordBatcher` regroups a model's token stream into phrases for a slow consumer (text to speech,
 * a chat bubble, an SMS gateway): it emits a phrase as soon as it holds `maxWords` complete words,
 * or when the model pauses for `idleMs` (so the listener is never left waiting on a half phrase),
 * and the rest at the end. `examples/test/virtual-time.test.ts` pins its timing exactly with
 * delayed fake streams (`@sluice/core/testing`) and vitest's fake timers: no real time passes.
 * Run: `pnpm exec tsx examples/word-batcher.ts`.
 */
import { type Part, type Processor, processor, textPart } from '@sluice/core';
import { streamContent } from '@sluice/streams';

export interface WordBatcherOptions {
  /** A phrase goes out once it holds this many complete words; default 6. */
  maxWords?: number;
  /** A phrase goes out when no token came for this long; default 300 ms. */
  idleMs?: number;
}

const IDLE = Symbol('idle');

/** Resolves with `promise`'s value, or with IDLE after `ms` (global setTimeout, cleared either way). */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | typeof IDLE> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<typeof IDLE>((resolve) => (timer = setTimeout(resolve, ms, IDLE))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** The end of the `n`-th complete word of `text` (a word is complete once whitespace follows it), or -1. */
function endOfWord(text: string, n: number): number {
  let count = 0;
  for (const match of text.matchAll(/\S+(?=\s)/g)) {
    if (++count === n) return match.index + match[0].length;
  }
  return -1;
}

/**
 * Regroups text parts into phrases of at most `maxWords` words. Order: phrases come out in the
 * order of the text; a part that is not text (a tool call, an image) first flushes the phrase in
 * progress, then passes through in its place. Timing: a phrase is emitted the moment its last
 * word completes, after `idleMs` without input, or at the end of the input. Concatenated, the
 * phrases are exactly the input text. Stopping clears the idle timer; an input error is passed on
 * after nothing more is emitted.
 */
export function wordBatcher(options: WordBatcherOptions = {}): Processor {
  const maxWords = options.maxWords ?? 6;
  const idleMs = options.idleMs ?? 300;
  if (!Number.isSafeInteger(maxWords) || maxWords < 1) throw new RangeError(`wordBatcher: maxWords must be >= 1`);
  if (!(idleMs > 0)) throw new RangeError(`wordBatcher: idleMs must be > 0`);

  return processor(
    async function* batchWords(input) {
      const iterator = input[Symbol.asyncIterator]();
      let buffer = '';
      let role = '';
      const phrase = (text: string) => textPart(text, { role, metadata: { words: text.trim().split(/\s+/).length } });
      let pending: Promise<IteratorResult<Part>> | undefined;
      for (;;) {
        if (!pending) {
          pending = iterator.next();
          // Stopped during a pause, this read may settle after the run: never an unhandled rejection.
          pending.catch(() => {});
        }
        const result = buffer === '' ? await pending : await within(pending, idleMs);
        if (result === IDLE) {
          // The model paused: send what we have; the pending read goes on.
          yield phrase(buffer);
          buffer = '';
          continue;
        }
        pending = undefined;
        if (result.done) break;
        const part = result.value;
        if (part.mimetype !== 'text/plain' || part.text === undefined) {
          if (buffer !== '') yield phrase(buffer);
          buffer = '';
          yield part;
          continue;
        }
        role = part.role;
        buffer += part.text;
        for (let end = endOfWord(buffer, maxWords); end >= 0; end = endOfWord(buffer, maxWords)) {
          yield phrase(buffer.slice(0, end));
          buffer = buffer.slice(end);
        }
      }
      if (buffer !== '') yield phrase(buffer);
    },
    { name: 'wordBatcher' },
  );
}

/** Streams a fake model answer (tokens 40 ms apart, with one long pause) through the batcher. */
export async function main(log: (line: string) => void = console.log): Promise<void> {
  const tokens = ['Sluice', ' gates', ' hold', ' water', ' back', ' and', ' let', ' it', ' through', ' on', ' demand.'];
  const pause = ' (thinking...)';
  const start = Date.now();
  const model = async function* () {
    yield* streamContent(tokens.slice(0, 5), { delayMs: 40 });
    await new Promise((resolve) => setTimeout(resolve, 600)); // the model pauses mid-answer
    yield pause;
    yield* streamContent(tokens.slice(5), { delayMs: 40 });
  };
  for await (const part of wordBatcher({ maxWords: 4, idleMs: 200 })(model())) {
    log(`${String(Date.now() - start).padStart(4)} ms  ${JSON.stringify(part.text)}`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
