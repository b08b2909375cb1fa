// The behaviour every HTTP model processor shares, run against a real fake
// server of its provider: token-by-token streaming, the final status part,
// byte splits, first-token latency, stopping, timeouts and key redaction.
// Each provider's test file calls `describeModelProcessor` and adds its own
// request-format tests.

import { inspect } from 'node:util';
import { chain, type Part, type Processor, processor, TOOL_CALL_MIMETYPE } from '@sluice/core';
import { afterEach, describe, expect, it } from 'vitest';
import { APIConnectionError, APITimeoutError, AuthenticationError } from '../src/http/errors.ts';
import type { ModelOptions } from '../src/models/options.ts';
import { type FakeModelServer, type FakeModelServerOptions, startFakeModelServer } from '../src/testing/fake-server.ts';
import type { FakeProvider } from '../src/testing/wire.ts';
import { within } from './model-helpers.ts';

export type ModelFactory = (options: ModelOptions) => Processor;

const tokens = ['Grüße', ' aus', ' 東京', ' 🗼!', ' Bye.'];

/** Starts a fake server for the test and closes it afterwards. */
export function useServer(provider: FakeProvider) {
  let current: FakeModelServer | undefined;
  afterEach(async () => {
    await current?.close();
    current = undefined;
  });
  return async (options: Omit<FakeModelServerOptions, 'provider'> = {}) => {
    await current?.close();
    current = await startFakeModelServer({ provider, reply: tokens, ...options });
    return current;
  };
}

export function describeModelProcessor(provider: FakeProvider, make: ModelFactory, label: string = provider): void {
  describe(`${label} processor (shared behaviour)`, () => {
    const start = useServer(provider);
    const model = (server: FakeModelServer, options: Partial<ModelOptions> = {}) =>
      make({
        model: 'test-model',
        baseURL: server.baseURL,
        apiKey: 'sk-test-key-0000',
        initialRetryDelayMs: 1,
        maxRetryDelayMs: 2,
        ...options,
      });

    it('streams each token as its own text part with role model, then a status part with usage and finishReason', async () => {
      const server = await start();
      const parts = await model(server)('Hello there').gather();
      const text = parts.filter((p) => p.substream === '');
      expect(text.map((p) => p.text)).toEqual(tokens);
      for (const p of text) {
        expect(p.role).toBe('model');
        expect(p.mimetype).toBe('text/plain');
      }
      const status = parts.at(-1)!;
      expect(status.substream).toBe('status');
      expect(status.metadata.finishReason).toBe('stop');
      expect(status.metadata.usage).toMatchObject({ inputTokens: 2, outputTokens: tokens.length });
      expect(server.requests).toHaveLength(1);
    });

    it('gives the same parts when the server writes one byte at a time (UTF-8 split inside characters)', async () => {
      const server = await start({ splitBytes: 1 });
      const parts = await model(server)('Hello').gather();
      expect(parts.filter((p) => p.substream === '').map((p) => p.text)).toEqual(tokens);
      expect(parts.at(-1)!.metadata.finishReason).toBe('stop');
    });

    it('delivers the first token before the server has sent the rest', async () => {
      const server = await start({ holdAfter: 1 });
      const iterator = model(server)('Hello')[Symbol.asyncIterator]();
      const first = await within(iterator.next(), 5000, 'the first token');
      expect(first.value?.text).toBe(tokens[0]);
      const held = await server.waitForHold();
      expect(held.tokensSent).toBe(1);
      server.release();
      const rest: Part[] = [];
      for (let r = await iterator.next(); !r.done; r = await iterator.next()) rest.push(r.value);
      expect(rest.filter((p) => p.substream === '').map((p) => p.text)).toEqual(tokens.slice(1));
    });

    it('streams reasoning on substream reasoning and tool calls as one part each', async () => {
      const server = await start({
        reply: {
          reasoning: 'I should look it up',
          text: 'Let me check.',
          toolCalls: [{ id: 'call_w', name: 'weather', args: { city: 'Oslo', days: 2 } }],
        },
      });
      const parts = await model(server, { tools: [{ name: 'weather', parameters: { type: 'object' } }] })(
        'Weather?',
      ).gather();
      const reasoning = parts.filter((p) => p.substream === 'reasoning');
      expect(reasoning.map((p) => p.text).join('')).toBe('I should look it up');
      expect(reasoning.every((p) => p.role === 'model')).toBe(true);
      const calls = parts.filter((p) => p.toolCall);
      expect(calls).toHaveLength(1);
      expect(calls[0].toolCall).toEqual({ id: 'call_w', name: 'weather', args: { city: 'Oslo', days: 2 } });
      expect(calls[0].mimetype).toBe(TOOL_CALL_MIMETYPE);
      expect(calls[0].role).toBe('model');
      expect(parts.at(-1)!.metadata.finishReason).toBe('tool_calls');
      expect(
        parts
          .filter((p) => p.substream === '' && p.text !== undefined)
          .map((p) => p.text)
          .join(''),
      ).toBe('Let me check.');
    });

    it('closes the connection within a second when the consumer breaks', async () => {
      const server = await start({ holdAfter: 1 });
      for await (const p of model(server)('Hello')) {
        expect(p.text).toBe(tokens[0]);
        break;
      }
      const [request] = server.requests;
      expect(await within(request.closed, 1000, 'the server seeing the close')).toEqual({ finished: false });
    });

    it('closes the connection within a second when the caller aborts, rejecting with the reason', async () => {
      const server = await start({ holdAfter: 1 });
      const controller = new AbortController();
      const reason = new Error('user cancelled');
      const seen: Part[] = [];
      const run = (async () => {
        for await (const p of model(server)('Hello', { signal: controller.signal })) {
          seen.push(p);
          controller.abort(reason);
        }
      })();
      await expect(run).rejects.toBe(reason);
      expect(seen).toHaveLength(1);
      expect(await within(server.requests[0].closed, 1000, 'the server seeing the close')).toEqual({ finished: false });
    });

    it('closes the connection within a second when a downstream processor throws', async () => {
      const server = await start({ holdAfter: 1 });
      const boom = new Error('downstream failed');
      const failing = processor(async function* fail(input) {
        for await (const p of input) {
          if (p.text) throw boom;
          yield p;
        }
      });
      await expect(chain(model(server), failing)('Hello').gather()).rejects.toBe(boom);
      expect(await within(server.requests[0].closed, 1000, 'the server seeing the close')).toEqual({ finished: false });
    });

    it('fails a stalled stream with APITimeoutError (idleTimeoutMs) after the tokens that arrived', async () => {
      const server = await start({ stallAfter: 2 });
      const seen: string[] = [];
      const run = (async () => {
        for await (const p of model(server, { idleTimeoutMs: 150 })('Hello')) if (p.text) seen.push(p.text);
      })();
      const error = await run.catch((e: unknown) => e);
      expect(error).toBeInstanceOf(APITimeoutError);
      expect((error as APITimeoutError).timeout).toBe('idleTimeoutMs');
      expect((error as APITimeoutError).message).toContain('150 ms');
      expect(seen).toEqual(tokens.slice(0, 2));
      expect(await within(server.requests[0].closed, 1000, 'the server seeing the close')).toEqual({ finished: false });
    });

    it('fails with APITimeoutError (headersTimeoutMs) when headers are late, after retrying', async () => {
      const server = await start({ headersDelayMs: 400 });
      const error = await model(server, { headersTimeoutMs: 50, maxRetries: 1 })('Hello')
        .gather()
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(APITimeoutError);
      expect((error as APITimeoutError).timeout).toBe('headersTimeoutMs');
      expect(server.requests).toHaveLength(2);
    });

    it('announces retries as status parts and succeeds', async () => {
      const server = await start({ fail: { status: 503, headers: { 'retry-after-ms': '1' } } });
      const parts = await model(server)('Hello').gather();
      const retry = parts.find((p) => p.substream === 'status' && p.metadata.retry === 1);
      expect(retry?.text).toContain('503');
      expect(parts.filter((p) => p.substream === '').map((p) => p.text)).toEqual(tokens);
    });

    it('never puts the API key in errors, even when the server echoes it', async () => {
      const server = await start({ apiKey: 'the-right-key' });
      const secret = 'sk-very-secret-key-123456';
      const error = await model(server, { apiKey: secret })('Hello')
        .gather()
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AuthenticationError);
      expect(server.requests).toHaveLength(1);
      const dumps = [
        String(error),
        (error as Error).stack ?? '',
        inspect(error, { depth: 10, showHidden: true }),
        JSON.stringify(error),
        JSON.stringify((error as AuthenticationError).body),
      ];
      for (const dump of dumps) expect(dump).not.toContain(secret);
      expect((error as AuthenticationError).message).toContain('[redacted]');
      expect((error as AuthenticationError).hint).toMatch(/API key/);
    });

    it('reports a refused connection as APIConnectionError naming the origin, without the key', async () => {
      const server = await start();
      const baseURL = server.baseURL;
      await server.close();
      const error = await make({ model: 'm', baseURL, apiKey: 'sk-refused-key-999', maxRetries: 0 })('x')
        .gather()
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(APIConnectionError);
      expect((error as Error).message).toContain(new URL(baseURL).host);
      expect(inspect(error, { depth: 10 })).not.toContain('sk-refused-key-999');
    });

    it('runs concurrent calls on the shared pool independently', async () => {
      const server = await start({ reply: (request) => `echo ${request.messages.at(-1)?.text}`, delayMs: 5 });
      const p = model(server);
      const answers = await Promise.all(['a', 'b', 'c', 'd'].map((q) => p(q).text()));
      expect(answers).toEqual(['echo a', 'echo b', 'echo c', 'echo d']);
    });

    it('rejects a missing model option at construction', () => {
      expect(() => make({} as ModelOptions)).toThrow(/model/);
    });
  });
}
