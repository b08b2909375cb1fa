import { afterEach, describe, expect, it, vi } from 'vitest';
import { type Context, chain, parallelConcat, partProcessor, processor } from '../src/index.ts';
import { endlessStream, streamContent, tracked } from '../src/testing.ts';

/** A stage that records its cleanup and waits on ctx.signal like real I/O does. */
function probe(log: string[], name: string, mode: 'part' | 'stream') {
  const wait = (ctx: Context, ms: number) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, ms);
      ctx.signal.addEventListener(
        'abort',
        () => {
          clearTimeout(timer);
          reject(ctx.signal.reason);
        },
        { once: true },
      );
    });
  if (mode === 'part') {
    return partProcessor(async function* (part, ctx) {
      try {
        await wait(ctx, 5);
        yield part;
      } finally {
        log.push(`${name}:finally:${ctx.signal.aborted ? 'aborted' : 'live'}`);
      }
    });
  }
  return processor(async function* (input, ctx) {
    try {
      for await (const part of input) {
        await wait(ctx, 5);
        yield part;
      }
    } finally {
      log.push(`${name}:finally:${ctx.signal.aborted ? 'aborted' : 'live'}`);
    }
  });
}

afterEach(() => {
  vi.useRealTimers();
});

describe('stopping a run', () => {
  it('break stops every stage and the source: finally blocks ran, signals aborted, before the loop exits', async () => {
    const log: string[] = [];
    const source = tracked(['a', 'b', 'c'], { endless: true, delayMs: 1 });
    const run = chain(probe(log, 'p1', 'part'), probe(log, 's1', 'stream'), probe(log, 'p2', 'part'))(source);
    for await (const part of run) if (part.text === 'a') break;
    expect(source.tracker.closed).toBe(true);
    expect(log.filter((l) => l.startsWith('s1'))).toEqual(['s1:finally:aborted']);
    expect(log.some((l) => l.startsWith('p1'))).toBe(true);
    expect(log.every((l) => l.endsWith('aborted') || l.endsWith('live'))).toBe(true);
  });

  it('an error in any stage reaches the consumer as the same object and stops the others', async () => {
    const log: string[] = [];
    class MyError extends Error {}
    const boom = new MyError('boom');
    const failing = processor(async function* (input) {
      for await (const part of input) {
        if (part.text === 'b') throw boom;
        yield part;
      }
    });
    const source = tracked(['a', 'b', 'c'], { endless: true });
    const error = await chain(
      probe(log, 'p1', 'part'),
      failing,
      probe(log, 's2', 'stream'),
    )(source)
      .gather()
      .catch((e) => e);
    expect(error).toBe(boom);
    expect(error).toBeInstanceOf(MyError);
    expect(source.tracker.closed).toBe(true);
    expect(log.some((l) => l.startsWith('s2:finally'))).toBe(true);
  });

  it('an error in a part processor while the consumer waits elsewhere still ends the run at once', async () => {
    const boom = new Error('late');
    const p = partProcessor(async (part) => {
      if (part.text === 'bad') {
        await new Promise((resolve) => setTimeout(resolve, 1));
        throw boom;
      }
      return new Promise<undefined>(() => {});
    });
    await expect(p(['hang', 'bad']).gather()).rejects.toBe(boom);
  });

  it("aborting the caller's signal rejects with signal.reason after every stage stopped; no timers left", async () => {
    vi.useFakeTimers();
    const log: string[] = [];
    const controller = new AbortController();
    const reason = new Error('user pressed stop');
    const run = chain(probe(log, 'p1', 'part'), probe(log, 's1', 'stream'))(
      streamContent(['a', 'b', 'c'], { delayMs: 100 }),
      {
        signal: controller.signal,
      },
    );
    const result = run.gather().catch((e) => e);
    await vi.advanceTimersByTimeAsync(150);
    controller.abort(reason);
    expect(await result).toBe(reason);
    expect(log).toContain('s1:finally:aborted');
    expect(vi.getTimerCount()).toBe(0);
  });

  it('an already aborted signal rejects at once with its reason', async () => {
    const reason = new Error('too late');
    await expect(partProcessor((p) => p)(['a'], { signal: AbortSignal.abort(reason) }).gather()).rejects.toBe(reason);
  });

  it('ctx.signal aborts when the run ends normally too (background work tied to it stops)', async () => {
    let signal: AbortSignal | undefined;
    const p = processor(async function* (input, ctx) {
      signal = ctx.signal;
      yield* input;
    });
    await p(['a']).gather();
    expect(signal?.aborted).toBe(true);
  });

  it('a PartStream can be iterated only once', async () => {
    const stream = partProcessor((p) => p)(['a']);
    await stream.gather();
    expect(() => stream[Symbol.asyncIterator]()).toThrow(/already iterated/);
  });

  it('a part processor whose fn returned a stream blocked in a read is stopped at once (return() ends that read)', async () => {
    let closed = false;
    let called!: () => void;
    const started = new Promise<void>((resolve) => {
      called = resolve;
    });
    const waiting = partProcessor(() => {
      called();
      const inner = endlessStream<string>()[Symbol.asyncIterator]();
      return {
        [Symbol.asyncIterator]: () => ({
          next: () => inner.next(),
          return: async () => {
            closed = true;
            return (await inner.return?.()) ?? { done: true as const, value: undefined };
          },
        }),
      };
    });
    const iterator = waiting(['x'])[Symbol.asyncIterator]();
    const read = iterator.next();
    await started;
    await iterator.return?.();
    expect(closed).toBe(true);
    expect((await read).done).toBe(true);
  });

  it('parallelConcat: the consumer sees the error only after every processor’s finally has run', async () => {
    const log: string[] = [];
    const boom = new Error('boom');
    const thrower = processor(async function* (input) {
      for await (const p of input) if (p.text === 'b') throw boom;
      yield 'never';
    });
    const slow = processor(async function* (input, ctx) {
      try {
        for await (const p of input) yield p;
        await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
        // Cleanup that takes a few turns of the event loop.
        for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
      } finally {
        log.push('slow finally');
      }
    });
    await expect(parallelConcat(thrower, slow)(['a', 'b']).gather()).rejects.toBe(boom);
    log.push('consumer caught');
    expect(log).toEqual(['slow finally', 'consumer caught']);
  });

  it('ctx.signal is made on first read: read after the run stopped, it is already aborted with the reason', async () => {
    const boom = new Error('boom');
    let saved: Context | undefined;
    const keeper = processor(async function* (input, ctx) {
      saved = ctx;
      for await (const p of input) yield p;
    });
    const thrower = partProcessor(() => {
      throw boom;
    });
    await expect(chain(keeper, thrower)(['a']).gather()).rejects.toBe(boom);
    expect(saved!.signal).toBeInstanceOf(AbortSignal);
    expect(saved!.signal.aborted).toBe(true);
    expect(saved!.signal.reason).toBe(boom);
  });

  it('a spread or destructured ctx keeps a working signal, status and debug', async () => {
    let spreadAborted: () => boolean = () => false;
    const p = processor(async function* (input, ctx) {
      const { signal, status } = ctx;
      const copy = { ...ctx };
      spreadAborted = () => copy.signal.aborted;
      status('hello');
      expect(copy.signal).toBe(signal);
      for await (const part of input) yield part;
    });
    const out = await p(['x']).gather();
    expect(out.map((o) => [o.substream, o.text])).toEqual([
      ['status', 'hello'],
      ['', 'x'],
    ]);
    expect(spreadAborted()).toBe(true);
  });

  it('a part processor may have a listener on ctx.signal per call in flight without a leak warning', async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    try {
      let started = 0;
      let allStarted!: () => void;
      const all = new Promise<void>((resolve) => {
        allStarted = resolve;
      });
      const listening = partProcessor(
        async (p, ctx) => {
          ctx.signal.addEventListener('abort', () => {});
          if (++started === 16) allStarted();
          await all;
          return p;
        },
        { concurrency: 16 },
      );
      const out = await listening(Array.from({ length: 16 }, (_, i) => String(i))).gather();
      expect(out).toHaveLength(16);
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
  });
});
