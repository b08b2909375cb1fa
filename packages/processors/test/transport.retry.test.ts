// Every retry and error path of one model call against a real loopback server
// speaking each provider's format: which failures are retried, how many
// times, which typed error comes out, and that nothing is retried once output
// started.

import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  APIConnectionError,
  type APIError,
  AuthenticationError,
  BadRequestError,
  ConflictError,
  InternalServerError,
  NotFoundError,
  PermissionError,
  RateLimitError,
} from '../src/http/errors.ts';
import type { ModelEvent } from '../src/models/events.ts';
import type { ModelOptions } from '../src/models/options.ts';
import { type RetryInfo, runModel } from '../src/models/run.ts';
import { type FakeModelServer, type FakeModelServerOptions, startFakeModelServer } from '../src/testing/fake-server.ts';
import type { FakeProvider } from '../src/testing/wire.ts';
import { calls, drain, userText } from './model-helpers.ts';

const providers: FakeProvider[] = ['openai', 'anthropic', 'ollama', 'gemini'];
const fast = { initialRetryDelayMs: 1, maxRetryDelayMs: 2 };
let server: FakeModelServer | undefined;

afterEach(async () => {
  vi.useRealTimers();
  await server?.close();
  server = undefined;
});

async function run(
  provider: FakeProvider,
  serverOptions: Omit<FakeModelServerOptions, 'provider'>,
  options: Partial<ModelOptions> = {},
  onRetry?: (info: RetryInfo) => void,
) {
  server = await startFakeModelServer({ provider, reply: 'one two three', ...serverOptions });
  const call = calls[provider]([userText('hi')], {
    model: 'm',
    baseURL: server.baseURL,
    apiKey: 'k',
    ...fast,
    ...options,
  });
  const result = await drain(runModel(call, undefined, onRetry));
  const text = result.items
    .filter((event): event is Extract<ModelEvent, { type: 'text' }> => event.type === 'text')
    .map((event) => event.text)
    .join('');
  return { ...result, text, requests: server.requests.length };
}

describe.each(providers)('%s', (provider) => {
  it('retries a 429 honouring retry-after-ms, then streams', async () => {
    const retries: RetryInfo[] = [];
    const result = await run(provider, { fail: { status: 429, headers: { 'retry-after-ms': '7' } } }, {}, (info) =>
      retries.push(info),
    );
    expect(result.error).toBeUndefined();
    expect(result.text).toBe('one two three');
    expect(result.requests).toBe(2);
    expect(retries).toHaveLength(1);
    expect(retries[0]).toMatchObject({ retry: 1, maxRetries: 2, delayMs: 7 });
    expect(retries[0].error).toBeInstanceOf(RateLimitError);
  });

  it('retries 500 and 503 twice by default, then succeeds', async () => {
    const result = await run(provider, { fail: [{ status: 500 }, { status: 503 }] });
    expect(result.error).toBeUndefined();
    expect(result.text).toBe('one two three');
    expect(result.requests).toBe(3);
  });

  it('gives up after maxRetries with the typed error of the last status', async () => {
    const result = await run(provider, { fail: { status: 502, times: 10 } });
    expect(result.error).toBeInstanceOf(InternalServerError);
    expect((result.error as APIError).status).toBe(502);
    expect((result.error as APIError).provider).toBe(provider);
    expect(result.requests).toBe(3);
  });

  it('maxRetries: N means N retries after the first attempt', async () => {
    expect((await run(provider, { fail: { status: 500, times: 10 } }, { maxRetries: 0 })).requests).toBe(1);
    await server?.close();
    expect((await run(provider, { fail: { status: 500, times: 10 } }, { maxRetries: 4 })).requests).toBe(5);
    await server?.close();
    expect((await run(provider, { fail: { status: 500, times: 10 } }, { retries: 1 })).requests).toBe(2);
  });

  it('retries 408 and 409', async () => {
    const result = await run(provider, { fail: [{ status: 408 }, { status: 409 }] });
    expect(result.error).toBeUndefined();
    expect(result.requests).toBe(3);
    await server?.close();
    const conflict = await run(provider, { fail: { status: 409, times: 10 } }, { maxRetries: 0 });
    expect(conflict.error).toBeInstanceOf(ConflictError);
  });

  it.each([
    [400, BadRequestError],
    [401, AuthenticationError],
    [403, PermissionError],
    [404, NotFoundError],
  ] as const)('never retries %i', async (status, ErrorClass) => {
    const result = await run(provider, { fail: { status, times: 10, headers: { 'x-should-retry': 'true' } } });
    expect(result.error).toBeInstanceOf(ErrorClass);
    expect((result.error as APIError).status).toBe(status);
    expect((result.error as APIError).hint).toBeTruthy();
    // The fake server sends a request id in each provider's own header (Ollama sends none).
    if (provider === 'ollama') expect((result.error as APIError).requestId).toBeUndefined();
    else expect((result.error as APIError).requestId).toMatch(/^req_\w+/);
    expect(result.requests).toBe(1);
  });

  it('obeys x-should-retry: false on a 503', async () => {
    const result = await run(provider, { fail: { status: 503, times: 10, headers: { 'x-should-retry': 'false' } } });
    expect(result.error).toBeInstanceOf(InternalServerError);
    expect(result.requests).toBe(1);
  });

  it('retries an error event that arrives before any output', async () => {
    const result = await run(provider, {
      streamError: { after: 0, status: provider === 'anthropic' ? 529 : 500 },
      faultyRequests: 1,
    });
    expect(result.error).toBeUndefined();
    expect(result.text).toBe('one two three');
    expect(result.requests).toBe(2);
  });

  it('throws an error event that arrives after output, typed, without retrying', async () => {
    const result = await run(provider, {
      streamError: { after: 1, status: 503, type: provider === 'anthropic' ? 'overloaded_error' : undefined },
    });
    expect(result.text).toBe('one');
    expect(result.error).toBeInstanceOf(InternalServerError);
    expect(result.requests).toBe(1);
  });

  it('retries a connection dropped before any output', async () => {
    const result = await run(provider, { dropAfter: 0, faultyRequests: 2 });
    expect(result.error).toBeUndefined();
    expect(result.text).toBe('one two three');
    expect(result.requests).toBe(3);
  });

  it('throws APIConnectionError for a connection dropped after output', async () => {
    const result = await run(provider, { dropAfter: 2 });
    expect(result.text).toBe('one two');
    expect(result.error).toBeInstanceOf(APIConnectionError);
    expect(result.requests).toBe(1);
  });
});

it('retries Anthropic 529 overloaded', async () => {
  const result = await run('anthropic', { fail: { status: 529 } });
  expect(result.error).toBeUndefined();
  expect(result.requests).toBe(2);
});

it('retries a refused connection, then throws APIConnectionError with the socket code', async () => {
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const { port } = closed.address() as AddressInfo;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  const retries: RetryInfo[] = [];
  const call = calls.openai([userText('hi')], {
    model: 'm',
    baseURL: `http://127.0.0.1:${port}/v1`,
    apiKey: 'k',
    ...fast,
  });
  const result = await drain(runModel(call, undefined, (info) => retries.push(info)));
  expect(result.error).toBeInstanceOf(APIConnectionError);
  expect((result.error as APIConnectionError).providerCode).toBe('ECONNREFUSED');
  expect((result.error as APIConnectionError).hint).toContain(`127.0.0.1:${port}`);
  expect(retries).toHaveLength(2);
});

it('waits exactly the retry-after seconds before retrying (fake timers)', async () => {
  server = await startFakeModelServer({
    provider: 'openai',
    reply: 'ok',
    fail: { status: 429, headers: { 'retry-after': '3' } },
  });
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
  let retried: (value: RetryInfo) => void = () => {};
  const retrying = new Promise<RetryInfo>((resolve) => {
    retried = resolve;
  });
  const call = calls.openai([userText('hi')], { model: 'm', baseURL: server.baseURL });
  const result = drain(runModel(call, undefined, retried));
  expect((await retrying).delayMs).toBe(3000);
  await vi.advanceTimersByTimeAsync(2999);
  expect(server.requests).toHaveLength(1);
  await vi.advanceTimersByTimeAsync(1);
  await server.waitForRequests(2);
  vi.useRealTimers();
  const { error, items } = await result;
  expect(error).toBeUndefined();
  expect(items[0]).toEqual({ type: 'text', text: 'ok' });
});
