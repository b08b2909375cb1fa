// The fake model server answers as the services do: request validation with
// the provider's own 400 bodies, auth headers each service accepts, unique
// request ids under concurrency, OpenAI's 429 code, and faults chosen by the
// request's content rather than its arrival order.

import { afterEach, describe, expect, it } from 'vitest';
import { openai } from '../src/models/openai.ts';
import { type FakeModelServer, type FakeModelServerOptions, startFakeModelServer } from '../src/testing/index.ts';
import { drain } from './model-helpers.ts';

let servers: FakeModelServer[] = [];
afterEach(async () => {
  await Promise.all(servers.map((server) => server.close()));
  servers = [];
});
async function start(options: FakeModelServerOptions): Promise<FakeModelServer> {
  const server = await startFakeModelServer(options);
  servers.push(server);
  return server;
}
const post = (url: string, body: string, headers: Record<string, string> = {}) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

describe('request validation, in each provider error shape', () => {
  it('OpenAI: malformed JSON, a missing model, stream_options without stream get a 400 error object', async () => {
    const server = await start({ provider: 'openai' });
    const url = `${server.baseURL}/chat/completions`;
    const malformed = await post(url, '{"model": "m", "messages": [');
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toMatchObject({
      error: { type: 'invalid_request_error', message: expect.any(String) },
    });
    const noModel = await post(url, JSON.stringify({ messages: [{ role: 'user', content: 'hi' }], stream: true }));
    expect(noModel.status).toBe(400);
    expect((await noModel.json()).error.message).toMatch(/model/);
    const options = await post(
      url,
      JSON.stringify({
        model: 'm',
        messages: [{ role: 'user', content: 'hi' }],
        stream_options: { include_usage: true },
      }),
    );
    expect(options.status).toBe(400);
    expect((await options.json()).error.message).toMatch(/stream_options/);
  });

  it('Anthropic: max_tokens and anthropic-version are required (type error, invalid_request_error)', async () => {
    const server = await start({ provider: 'anthropic' });
    const url = `${server.baseURL}/v1/messages`;
    const body = { model: 'claude', messages: [{ role: 'user', content: 'hi' }], stream: true };
    const noVersion = await post(url, JSON.stringify({ ...body, max_tokens: 10 }));
    expect(noVersion.status).toBe(400);
    expect(await noVersion.json()).toMatchObject({
      type: 'error',
      error: { type: 'invalid_request_error', message: expect.stringMatching(/anthropic-version/) },
    });
    const noMax = await post(url, JSON.stringify(body), { 'anthropic-version': '2023-06-01' });
    expect(noMax.status).toBe(400);
    expect((await noMax.json()).error.message).toMatch(/max_tokens/);
  });

  it('Gemini: malformed JSON gets INVALID_ARGUMENT', async () => {
    const server = await start({ provider: 'gemini' });
    const response = await post(`${server.baseURL}/v1beta/models/g:streamGenerateContent?alt=sse`, '{oops');
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: { code: 400, status: 'INVALID_ARGUMENT' } });
  });
});

describe('auth as the services do it', () => {
  it('Anthropic accepts x-api-key or Authorization: Bearer', async () => {
    const server = await start({ provider: 'anthropic', apiKey: 'sk-ant' });
    const body = JSON.stringify({
      model: 'c',
      max_tokens: 5,
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
    });
    const headers = { 'anthropic-version': '2023-06-01' };
    const url = `${server.baseURL}/v1/messages`;
    expect((await post(url, body, { ...headers, 'x-api-key': 'sk-ant' })).status).toBe(200);
    expect((await post(url, body, { ...headers, authorization: 'Bearer sk-ant' })).status).toBe(200);
    expect((await post(url, body, { ...headers, authorization: 'Bearer wrong' })).status).toBe(401);
  });
});

describe('ids and error bodies', () => {
  it('gives concurrent requests distinct request ids', async () => {
    const server = await start({ provider: 'openai', headersDelayMs: 20 });
    const body = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }], stream: true });
    const url = `${server.baseURL}/chat/completions`;
    const responses = await Promise.all([post(url, body), post(url, body), post(url, body)]);
    const ids = responses.map((r) => r.headers.get('x-request-id'));
    await Promise.all(responses.map((r) => r.text()));
    expect(new Set(ids).size).toBe(3);
  });

  it("puts rate_limit_exceeded in the OpenAI 429 body's code", async () => {
    const server = await start({ provider: 'openai', fail: { status: 429, headers: { 'retry-after': '1' } } });
    const response = await post(
      `${server.baseURL}/chat/completions`,
      JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }], stream: true }),
    );
    expect(response.status).toBe(429);
    expect(response.headers.get('retry-after')).toBe('1');
    expect((await response.json()).error.code).toBe('rate_limit_exceeded');
  });
});

describe('faults by content', () => {
  it('fails the prompt that is too long, whatever order the requests arrive in', async () => {
    const server = await start({
      provider: 'openai',
      reply: 'ok',
      fail: (request) =>
        (request.messages.at(-1)?.text.length ?? 0) > 20
          ? { status: 400, message: 'the prompt is too long' }
          : undefined,
    });
    const model = openai({ model: 'm', baseURL: server.baseURL, apiKey: 'k', maxRetries: 0 });
    const long = 'a very long prompt that goes on and on';
    for (const order of [
      ['short', long],
      [long, 'short'],
    ]) {
      const results = await Promise.all(order.map((prompt) => drain(model(prompt))));
      for (const [i, prompt] of order.entries()) {
        if (prompt === long) expect(results[i].error).toMatchObject({ status: 400 });
        else expect(results[i].error).toBeUndefined();
      }
    }
  });
});
