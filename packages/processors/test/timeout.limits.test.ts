// timeout(): first-part, idle and total limits on virtual time, the inner
// run stopped when a limit fires, and a stalled model socket closed.

import { processor, statusPart, textPart } from '@sluice/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ProcessorTimeoutError, timeout } from '../src/flow/timeout.ts';
import { fakeModel } from '../src/models/fake.ts';
import { openai } from '../src/models/openai.ts';
import { type FakeModelServer, startFakeModelServer } from '../src/testing/fake-server.ts';
import { within } from './model-helpers.ts';

let server: FakeModelServer | undefined;
afterEach(async () => {
  vi.useRealTimers();
  await server?.close();
  server = undefined;
});

async function outcome(run: Promise<unknown>) {
  return run.then(
    (value) => ({ value, error: undefined }),
    (error: unknown) => ({ value: undefined, error }),
  );
}

describe('timeout', () => {
  it('passes parts through when every limit holds', async () => {
    vi.useFakeTimers();
    const run = outcome(
      timeout(fakeModel({ reply: ['a', 'b'], delayMs: 100 }), { firstPartMs: 150, idleMs: 150, totalMs: 500 })(
        'x',
      ).text(),
    );
    await vi.runAllTimersAsync();
    expect(await run).toEqual({ value: 'ab', error: undefined });
    expect(vi.getTimerCount()).toBe(0);
  });

  it('fails with firstPartMs when the first part is late, and stops the inner run', async () => {
    vi.useFakeTimers();
    const run = outcome(timeout(fakeModel({ reply: ['a'], firstDelayMs: 1000 }), { firstPartMs: 200 })('x').gather());
    await vi.advanceTimersByTimeAsync(200);
    const { error } = await run;
    expect(error).toBeInstanceOf(ProcessorTimeoutError);
    expect(error).toMatchObject({ limit: 'firstPartMs', ms: 200, code: 'E_TIMEOUT' });
    expect((error as Error).message).toContain('firstPartMs');
    expect(vi.getTimerCount()).toBe(0);
  });

  it('fails with idleMs when a later part is late', async () => {
    vi.useFakeTimers();
    const run = outcome(
      timeout(fakeModel({ reply: ['a', 'b'], firstDelayMs: 10, delayMs: 500 }), { firstPartMs: 100, idleMs: 300 })(
        'x',
      ).gather(),
    );
    await vi.advanceTimersByTimeAsync(310);
    expect((await run).error).toMatchObject({ limit: 'idleMs', ms: 300 });
    expect(vi.getTimerCount()).toBe(0);
  });

  it('fails with totalMs when the whole run is too long', async () => {
    vi.useFakeTimers();
    const run = outcome(
      timeout(fakeModel({ reply: ['a', 'b', 'c', 'd'], delayMs: 100 }), { idleMs: 150, totalMs: 250 })('x').gather(),
    );
    await vi.advanceTimersByTimeAsync(250);
    expect((await run).error).toMatchObject({ limit: 'totalMs', ms: 250 });
  });

  it('does not count status parts as the first part', async () => {
    vi.useFakeTimers();
    const slow = processor(async function* slowAfterStatus(_input, ctx) {
      yield statusPart('warming up');
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(resolve, 1000);
        ctx.signal.addEventListener('abort', () => {
          clearTimeout(timer);
          reject(ctx.signal.reason);
        });
      });
      yield textPart('late');
    });
    const run = outcome(timeout(slow, { firstPartMs: 300 })('x').gather());
    await vi.advanceTimersByTimeAsync(300);
    expect((await run).error).toMatchObject({ limit: 'firstPartMs' });
  });

  it('rejects limits that are not positive', () => {
    expect(() => timeout(fakeModel({ reply: 'a' }), { idleMs: 0 })).toThrow(RangeError);
  });

  it('closes a stalled model stream within a second', async () => {
    server = await startFakeModelServer({ provider: 'openai', reply: 'a b c', stallAfter: 1 });
    const error = await timeout(openai({ model: 'm', baseURL: server.baseURL }), { idleMs: 100 })('x')
      .gather()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProcessorTimeoutError);
    expect(await within(server.requests[0].closed, 1000, 'the server seeing the close')).toEqual({ finished: false });
  });
});
