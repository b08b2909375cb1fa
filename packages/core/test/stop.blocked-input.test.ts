// A run whose input is a user's async generator blocked in an await (a native generator queues
// return() behind that pending read): a consumer's break, a return() during a pending next() and an
// abort must all complete at once, in every kind of stage. The input is returned, not waited for;
// its finally runs when its pending await settles; what it throws then is caught (vitest fails the
// run on an unhandled rejection).
import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import {
  catchErrors,
  chain,
  type Part,
  PartStream,
  type Processor,
  parallel,
  parallelConcat,
  partProcessor,
  processor,
  readParts,
  source,
  sseResponse,
  textPart,
  toJSON,
} from '../src/index.ts';
import { blockedStream, endlessStream } from '../src/testing.ts';

/** True once `condition` holds, checked after each of at most `turns` turns of the event loop. */
async function until(condition: () => boolean, turns = 50): Promise<boolean> {
  for (let i = 0; i < turns && !condition(); i++) await nextTurn();
  return condition();
}

/** True when `promise` settles within `turns` turns of the event loop: a hang shows as false. */
async function settles(promise: Promise<unknown>, turns = 50): Promise<boolean> {
  let settled = false;
  const done = () => {
    settled = true;
  };
  promise.then(done, done);
  return until(() => settled, turns);
}

async function firstThenBreak(stream: AsyncIterable<Part>): Promise<string[]> {
  const seen: string[] = [];
  for await (const p of stream) {
    seen.push(p.text ?? '');
    break;
  }
  return seen;
}

async function* identity(input: PartStream): AsyncGenerator<Part> {
  for await (const p of input) yield p;
}

const kinds: [string, () => Processor][] = [
  ['a part processor', () => partProcessor((p) => p)],
  ['a lazy part processor', () => partProcessor((p) => p, { lazy: true })],
  [
    'a part processor whose fn returns an async generator',
    () =>
      partProcessor(async function* (p) {
        yield p;
      }),
  ],
  ['a processor stage', () => processor(identity)],
  [
    'a processor stage after a part processor',
    () =>
      chain(
        partProcessor((p) => p),
        processor(identity),
      ),
  ],
  [
    'a part processor after a processor stage',
    () =>
      chain(
        processor(identity),
        partProcessor((p) => p),
      ),
  ],
  ['source', () => source(() => endlessStream<string>())],
  [
    'parallel',
    () =>
      parallel(
        partProcessor((p) => p),
        partProcessor((p) => p),
      ),
  ],
  [
    'parallelConcat',
    () =>
      parallelConcat(
        processor(identity),
        partProcessor((p) => p),
      ),
  ],
  ['catchErrors over a processor stage', () => catchErrors(processor(identity))],
  ['catchErrors over a part processor', () => catchErrors(partProcessor((p) => p))],
];

describe('stopping a run whose input is blocked in a read', () => {
  it('the issue’s case: break over partProcessor((x) => x) of `yield first; yield* endlessStream()`', async () => {
    const input = (async function* () {
      yield 'first';
      yield* endlessStream<string>();
    })();
    const run = firstThenBreak(partProcessor((x) => x)(input));
    expect(await settles(run)).toBe(true);
    expect(await run).toEqual(['first']);
  });

  for (const [kind, make] of kinds) {
    it(`${kind}: break completes; the input was returned; its finally runs when its await settles`, async () => {
      const input = blockedStream(['first']);
      const run = firstThenBreak(make()(input));
      expect(await settles(run)).toBe(true);
      expect(await run).toEqual(['first']);
      expect(input.returned).toBe(true);
      // A stage that reads ahead left the input blocked in its read; one that does not returned it at a yield.
      input.release();
      expect(await until(() => input.closed)).toBe(true);
    });

    it(`${kind}: return() during a pending next() completes and ends that read`, async () => {
      const input = blockedStream<string>([]);
      const iterator = make()(input)[Symbol.asyncIterator]();
      const read = iterator.next();
      await input.reached;
      expect(await settles(iterator.return!())).toBe(true);
      expect(await settles(read)).toBe(true);
      expect((await read).done).toBe(true);
      expect(input.returned).toBe(true);
    });

    it(`${kind}: an abort rejects at once with signal.reason`, async () => {
      const input = blockedStream<string>([]);
      const controller = new AbortController();
      const run = make()(input, { signal: controller.signal }).gather();
      await input.reached;
      const reason = new Error('leave');
      controller.abort(reason);
      expect(await settles(run)).toBe(true);
      await expect(run).rejects.toBe(reason);
      expect(input.returned).toBe(true);
    });

    it(`${kind}: what the left-behind input throws later is caught`, async () => {
      const input = blockedStream(['first']);
      const run = firstThenBreak(make()(input));
      expect(await settles(run)).toBe(true);
      input.fail(new Error('late failure'));
      expect(await until(() => input.closed)).toBe(true);
    });
  }

  it('stage code is still waited for: a stage blocked on ctx.signal has run its finally when break completes', async () => {
    const log: string[] = [];
    const waits = processor(async function* (input, ctx) {
      try {
        for await (const p of input) {
          yield p;
          await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
        }
      } finally {
        log.push('stage finally');
      }
    });
    const input = blockedStream(['first']);
    expect(await firstThenBreak(waits(input))).toEqual(['first']);
    expect(log).toEqual(['stage finally']);
  });

  it('sseResponse over a user’s generator blocked in a read: cancelling the body completes', async () => {
    const parts = blockedStream([textPart('first')]);
    for (const heartbeatMs of [0, 15_000]) {
      const stream = heartbeatMs === 0 ? parts : blockedStream([textPart('first')]);
      const reader = sseResponse(stream, { heartbeatMs }).body!.getReader();
      expect(new TextDecoder().decode((await reader.read()).value)).toContain('first');
      const read = reader.read();
      await stream.reached;
      expect(await settles(reader.cancel())).toBe(true);
      expect((await read).done).toBe(true);
      expect(stream.returned).toBe(true);
    }
  });

  it('PartStream.toReadableStream(): cancel completes while its source is blocked in a read', async () => {
    const source = blockedStream([textPart('first')]);
    const reader = new PartStream(source).toReadableStream().getReader();
    expect((await reader.read()).value?.text).toBe('first');
    const read = reader.read();
    await source.reached;
    expect(await settles(reader.cancel())).toBe(true);
    expect((await read).done).toBe(true);
    expect(source.returned).toBe(true);
  });

  it('readParts: return() while a read waits on a silent server cancels the body at once', async () => {
    let cancelled = false;
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(`data: ${JSON.stringify(toJSON(textPart('first')))}\n\n`));
      },
      cancel() {
        cancelled = true;
      },
    });
    const iterator = readParts(body)[Symbol.asyncIterator]();
    expect((await iterator.next()).value?.text).toBe('first');
    const read = iterator.next();
    expect(await settles(iterator.return!())).toBe(true);
    expect((await read).done).toBe(true);
    expect(cancelled).toBe(true);
  });

  it('sseResponse: cancelling the body completes while the run’s input is blocked', async () => {
    const input = blockedStream(['first']);
    const response = sseResponse(partProcessor((p) => p)(input), { heartbeatMs: 0 });
    const parts = readParts(response)[Symbol.asyncIterator]();
    expect((await parts.next()).value?.text).toBe('first');
    expect(await settles(parts.return!())).toBe(true);
    expect(await until(() => input.returned)).toBe(true);
  });
});
