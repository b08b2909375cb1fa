// retry(): re-runs a failed run with the same input, and resumes a model
// stream that broke mid-way without duplicating the text already emitted.

import { type Part, part, processor, TOOL_CALL_MIMETYPE } from '@sluice/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { retry } from '../src/flow/retry.ts';
import { AuthenticationError, InternalServerError } from '../src/http/errors.ts';
import { anthropic } from '../src/models/anthropic.ts';
import { ollama } from '../src/models/ollama.ts';
import { openai } from '../src/models/openai.ts';
import { type FakeModelServer, startFakeModelServer } from '../src/testing/fake-server.ts';

let server: FakeModelServer | undefined;
afterEach(async () => {
  vi.useRealTimers();
  await server?.close();
  server = undefined;
});

const fast = { initialRetryDelayMs: 1, maxRetryDelayMs: 2 };
const textOf = (parts: Part[]) => parts.filter((p) => p.substream === '' && p.text !== undefined).map((p) => p.text);

/** A processor that fails its first `failures` runs after emitting `before` model tokens. */
function flaky(failures: number, before: string[], error: () => unknown = () => new Error('flaky')) {
  let runs = 0;
  const inputs: string[][] = [];
  const p = processor(async function* flakyModel(input) {
    const parts = await input.gather();
    inputs.push(parts.map((x) => `${x.role}:${x.text}`));
    runs++;
    if (runs <= failures) {
      for (const token of before) yield part(token, { role: 'model' });
      throw error();
    }
    yield part('done', { role: 'model' });
  });
  return { p, inputs, runs: () => runs };
}

describe('retry before any output', () => {
  it('re-runs with the same input and passes the successful output', async () => {
    const { p, inputs, runs } = flaky(2, []);
    const parts = await retry(p, fast)('question').gather();
    expect(textOf(parts)).toEqual(['done']);
    expect(runs()).toBe(3);
    expect(inputs).toEqual([[':question'], [':question'], [':question']]);
    const announced = parts.filter((x) => x.substream === 'status' && x.metadata.retry !== undefined);
    expect(announced.map((x) => x.metadata.retry)).toEqual([1, 2]);
  });

  it('gives up after maxRetries (retries: N is the same option) with the last error', async () => {
    const boom = new Error('always');
    const { p, runs } = flaky(10, [], () => boom);
    await expect(retry(p, { ...fast, retries: 1 })('q').gather()).rejects.toBe(boom);
    expect(runs()).toBe(2);
  });

  it('does not retry errors retrying cannot fix', async () => {
    const { p, runs } = flaky(10, [], () => new AuthenticationError('bad key', { status: 401 }));
    await expect(retry(p, fast)('q').gather()).rejects.toBeInstanceOf(AuthenticationError);
    expect(runs()).toBe(1);
  });

  it('uses a custom shouldRetry', async () => {
    const { p, runs } = flaky(10, []);
    await expect(retry(p, { ...fast, shouldRetry: () => false })('q').gather()).rejects.toThrow('flaky');
    expect(runs()).toBe(1);
  });

  it('does not retry a run that already emitted a non-text part', async () => {
    let runs = 0;
    const p = processor(async function* toolThenFail() {
      runs++;
      yield part(new Uint8Array(), {
        mimetype: TOOL_CALL_MIMETYPE,
        role: 'model',
        toolCall: { id: '1', name: 'f', args: {} },
      });
      throw new Error('after tool call');
    });
    await expect(retry(p, fast)('q').gather()).rejects.toThrow('after tool call');
    expect(runs).toBe(1);
  });

  it('waits with backoff on the global timers and stops waiting when the run is stopped', async () => {
    vi.useFakeTimers();
    const { p } = flaky(10, []);
    const controller = new AbortController();
    const run = retry(p, { initialRetryDelayMs: 10_000 })('q', { signal: controller.signal }).gather();
    await vi.advanceTimersByTimeAsync(1);
    expect(vi.getTimerCount()).toBe(1);
    const reason = new Error('user stop');
    controller.abort(reason);
    await expect(run).rejects.toBe(reason);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('retry resuming a model stream', () => {
  it('resumes an OpenAI-compatible stream dropped after two tokens with no duplicated text', async () => {
    server = await startFakeModelServer({
      provider: 'openai',
      reply: 'one two three four',
      dropAfter: 2,
      faultyRequests: 1,
    });
    const parts = await retry(openai({ model: 'm', baseURL: server.baseURL, maxRetries: 0 }), fast)('count').gather();
    expect(textOf(parts).join('')).toBe('one two three four');
    expect(textOf(parts)).toEqual(['one', ' two', ' three', ' four']);
    expect(server.requests).toHaveLength(2);
    expect(server.requests[1].messages.at(-1)).toEqual({ role: 'assistant', text: 'one two' });
    const status = parts.find((p) => p.metadata.resumed === true);
    expect(status?.substream).toBe('status');
  });

  it('drops the repeated prefix when the server restarts the answer instead of continuing', async () => {
    server = await startFakeModelServer({
      provider: 'anthropic',
      reply: 'alpha beta gamma delta',
      streamError: { after: 3, type: 'overloaded_error' },
      faultyRequests: 1,
      continuePrefill: false,
    });
    const parts = await retry(anthropic({ model: 'm', baseURL: server.baseURL }), fast)('go').gather();
    expect(textOf(parts).join('')).toBe('alpha beta gamma delta');
    expect(server.requests).toHaveLength(2);
  });

  it('resumes an idle-timed-out stream', async () => {
    server = await startFakeModelServer({ provider: 'ollama', reply: 'a b c d e', stallAfter: 3, faultyRequests: 1 });
    const parts = await retry(
      ollama({ model: 'm', baseURL: server.baseURL, idleTimeoutMs: 100, maxRetries: 0 }),
      fast,
    )('go').gather();
    expect(textOf(parts).join('')).toBe('a b c d e');
  });

  it('with resume: false, a stream that failed after output is not retried', async () => {
    server = await startFakeModelServer({
      provider: 'openai',
      reply: 'one two three',
      dropAfter: 1,
      faultyRequests: 1,
    });
    const run = retry(openai({ model: 'm', baseURL: server.baseURL, maxRetries: 0 }), { ...fast, resume: false })(
      'q',
    ).gather();
    await expect(run).rejects.toBeInstanceOf(Error);
    expect(server.requests).toHaveLength(1);
  });

  it('passes the typed error through when resuming keeps failing', async () => {
    server = await startFakeModelServer({
      provider: 'anthropic',
      reply: 'x y z',
      streamError: { after: 1, status: 500 },
    });
    const run = retry(anthropic({ model: 'm', baseURL: server.baseURL, maxRetries: 0 }), { ...fast, maxRetries: 2 })(
      'q',
    ).gather();
    await expect(run).rejects.toBeInstanceOf(InternalServerError);
    expect(server.requests).toHaveLength(3);
  });
});
