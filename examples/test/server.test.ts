import { readParts } from '@sluice/core';
import { type FakeFailure, type FakeModelServerOptions, startFakeModelServer } from '@sluice/processors/testing';
import { createLLM } from '@sluice/sdk';
import { afterEach, describe, expect, it } from 'vitest';
import { type BatchItem, type RunningServer, startServer } from '../server.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A fake model server that counts the streams in flight, and the API in front of it. */
async function setup(model: Partial<FakeModelServerOptions> = {}, batchConcurrency = 2) {
  let inFlight = 0;
  let maxInFlight = 0;
  const fake = await startFakeModelServer({
    provider: 'openai',
    reply: (request) => {
      maxInFlight = Math.max(maxInFlight, ++inFlight);
      void request.closed.then(() => inFlight--);
      return `Answer to: ${request.messages.at(-1)?.text}`;
    },
    delayMs: 5,
    ...model,
  });
  cleanups.push(() => fake.close());
  const llm = createLLM('openai', { model: 'gpt-4o-mini', baseURL: fake.baseURL, maxRetries: 0, env: {} });
  cleanups.push(() => llm.close());
  const api: RunningServer = await startServer({ llm, batchConcurrency });
  cleanups.push(() => api.close());
  const post = (path: string, body: unknown, signal?: AbortSignal) =>
    fetch(`${api.url}${path}`, { method: 'POST', body: JSON.stringify(body), signal });
  return { fake, api, post, maxInFlight: () => maxInFlight };
}

describe('examples/server.ts', () => {
  it('POST /generate answers as JSON, and rejects a bad body with 400', async () => {
    const { post, fake } = await setup();
    const res = await post('/generate', { prompt: 'What is a sluice?', system: 'Be brief.' });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ text: 'Answer to: What is a sluice?', finishReason: 'stop' });
    expect(fake.requests[0]!.messages[0]).toEqual({ role: 'system', text: 'Be brief.' });

    const bad = await post('/generate', { question: 'no prompt field' });
    expect(bad.status).toBe(400);
    expect((await bad.json()).error.message).toMatch(/prompt: /);
    expect(fake.requests).toHaveLength(1);
  });

  it('POST /generate turns a model failure into 502', async () => {
    const { post } = await setup({ fail: { status: 500, message: 'boom', times: 1 } });
    const res = await post('/generate', { prompt: 'hi' });
    expect(res.status).toBe(502);
    expect((await res.json()).error).toMatchObject({ name: 'InternalServerError' });
  });

  it('POST /batch answers every prompt in order, 2 at a time, with a failure in its place', async () => {
    const fail: FakeFailure[] = [];
    fail[2] = { status: 400, message: 'rejected by a filter' };
    const { post, fake, maxInFlight } = await setup({ fail }, 2);
    const prompts = ['a', 'b', 'c', 'd', 'e', 'f'];
    const res = await post('/batch', prompts);
    expect(res.status).toBe(200);
    const items = (await res.json()) as BatchItem[];
    expect(items.map((i) => i.prompt)).toEqual(prompts);
    const failed = items.filter((i) => !i.ok);
    expect(failed).toHaveLength(1);
    // The failed prompt is the one whose request the server rejected.
    expect(failed[0]!.prompt).toBe(fake.requests[2]!.messages.at(-1)!.text);
    expect(failed[0]).toMatchObject({ error: expect.stringMatching(/^BadRequestError: .*rejected by a filter/) });
    for (const item of items) if (item.ok) expect(item.text).toBe(`Answer to: ${item.prompt}`);
    expect(maxInFlight()).toBe(2);

    expect((await post('/batch', { prompts })).status).toBe(400);
    expect((await post('/batch', [])).status).toBe(400);
  });

  it('POST /stream sends each token before the model has finished', async () => {
    const { post, fake } = await setup({ holdAfter: 2 });
    const res = await post('/stream', { prompt: 'stream me' });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const tokens: string[] = [];
    let status: Record<string, unknown> | undefined;
    for await (const part of readParts(res)) {
      if (part.substream === 'status') status = part.metadata;
      else tokens.push(part.text!);
      // Two tokens arrived while the model server is still holding the rest back.
      if (tokens.length === 2 && fake.requests[0]!.tokensSent === 2) fake.release();
    }
    expect(tokens.join('')).toBe('Answer to: stream me');
    expect(tokens.length).toBeGreaterThan(2);
    expect(status).toMatchObject({ finishReason: 'stop' });
    expect(await fake.requests[0]!.closed).toEqual({ finished: true });
  });

  it('POST /stream stops the model when the client goes away', async () => {
    const { post, fake } = await setup({ holdAfter: 2 });
    const client = new AbortController();
    const res = await post('/stream', { prompt: 'stream me' }, client.signal);
    const tokens: string[] = [];
    for await (const part of readParts(res)) {
      tokens.push(part.text ?? '');
      if (tokens.length === 2) break; // closes the connection
    }
    client.abort();
    expect(await fake.requests[0]!.closed).toEqual({ finished: false });
    expect(fake.requests[0]!.tokensSent).toBe(2);
  });
});
