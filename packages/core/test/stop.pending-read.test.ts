// Stopping must work while the consumer's read is still pending: a native generator's return()
// queues behind a pending next(), so the run is stopped first (every stage's signal aborts).
import { describe, expect, it } from 'vitest';
import {
  type Context,
  parallel,
  parallelConcat,
  partProcessor,
  processor,
  readParts,
  source,
  sseResponse,
} from '../src/index.ts';
import { endlessStream, streamContent } from '../src/testing.ts';

/** Resolves when the signal aborts, like real I/O given the signal. */
const untilAborted = (ctx: Context) =>
  new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));

function waiting(log: string[], started?: () => void) {
  return processor(async function* (_input, ctx) {
    try {
      started?.();
      await untilAborted(ctx);
      yield 'never reached while the run lives';
    } finally {
      log.push(`finally aborted=${ctx.signal.aborted}`);
    }
  });
}

describe('stopping while a read is pending', () => {
  it('return() during a pending next() stops the run and runs finally blocks', async () => {
    const log: string[] = [];
    const iterator = waiting(log)()[Symbol.asyncIterator]();
    const pending = iterator.next();
    await iterator.return?.();
    expect(await pending).toEqual({ done: true, value: undefined });
    expect(log).toEqual(['finally aborted=true']);
  });

  it('toReadableStream().cancel() with a read pending stops the run', async () => {
    const log: string[] = [];
    let started!: () => void;
    const running = new Promise<void>((r) => {
      started = r;
    });
    const reader = waiting(log, started)().toReadableStream().getReader();
    const read = reader.read();
    await running;
    await reader.cancel();
    expect((await read).done).toBe(true);
    expect(log).toEqual(['finally aborted=true']);
  });

  it('parallel: an error in one processor ends the run while another waits on its signal', async () => {
    const boom = new Error('boom');
    const waits = partProcessor(async (_part, ctx) => {
      await untilAborted(ctx);
      return undefined;
    });
    const fails = partProcessor(async () => {
      throw boom;
    });
    await expect(parallel(waits, fails)(['x']).gather()).rejects.toBe(boom);
    await expect(
      parallelConcat(
        waiting([]),
        processor(async function* () {
          yield* [];
          throw boom;
        }),
      )(['x']).gather(),
    ).rejects.toBe(boom);
  });

  it('sseResponse: cancelling the body stops a pipeline that is idle, waiting on its signal', async () => {
    const log: string[] = [];
    let started!: () => void;
    const running = new Promise<void>((r) => {
      started = r;
    });
    const response = sseResponse(waiting(log, started)(), { heartbeatMs: 0 });
    const reader = response.body!.getReader();
    const read = reader.read();
    await running;
    await reader.cancel();
    await read;
    expect(log).toEqual(['finally aborted=true']);
  });

  it('source: the run ends when the input ends while fn waits on its signal', async () => {
    let closed = false;
    const s = source(async function* (ctx) {
      try {
        await untilAborted(ctx);
        yield 'after the stop';
      } finally {
        closed = true;
      }
    });
    expect((await s(streamContent(['in'])).gather()).map((p) => p.text)).toEqual(['in']);
    expect(closed).toBe(true);
  });

  it('readParts over a stopped sseResponse ends without hanging', async () => {
    const controller = new AbortController();
    const parts = readParts(sseResponse(processor(() => endlessStream())()), { signal: controller.signal }).gather();
    queueMicrotask(() => controller.abort(new Error('leave')));
    await expect(parts).rejects.toThrow('leave');
  });
});
