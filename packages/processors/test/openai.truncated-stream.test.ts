// An OpenAI-compatible stream that ends cleanly but early (no finish_reason, no [DONE]) is a cut
// connection, as for Anthropic (no message_stop) and Ollama (no done object): APIConnectionError,
// which retry() resumes. Servers that omit [DONE] but send a finish_reason (llama.cpp, vLLM) succeed.

import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { retry } from '../src/flow/retry.ts';
import { APIConnectionError } from '../src/http/errors.ts';
import { openai } from '../src/models/openai.ts';

const chunk = (delta: Record<string, unknown>, finishReason: string | null = null) =>
  `data: ${JSON.stringify({
    id: 'chatcmpl-1',
    object: 'chat.completion.chunk',
    model: 'm',
    choices: [{ index: 0, delta, finish_reason: finishReason }],
  })}\n\n`;
const usage = `data: ${JSON.stringify({ id: 'chatcmpl-1', choices: [], usage: { prompt_tokens: 2, completion_tokens: 3, total_tokens: 5 } })}\n\n`;
const done = 'data: [DONE]\n\n';

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  server?.close();
  server = undefined;
});

/** A real server answering request i with bodies[i] (the last one for any later request), then ending the response cleanly. */
async function serve(bodies: string[]): Promise<{ baseURL: string; requests: unknown[] }> {
  const requests: unknown[] = [];
  server = createServer((req, res) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (data: string) => {
      text += data;
    });
    req.on('end', () => {
      requests.push(JSON.parse(text));
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(bodies[Math.min(requests.length - 1, bodies.length - 1)]);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return { baseURL: `http://127.0.0.1:${port}/v1`, requests };
}

const model = (baseURL: string) =>
  openai({ model: 'm', baseURL, apiKey: 'k', maxRetries: 0, initialRetryDelayMs: 1, maxRetryDelayMs: 1 });

describe('openai stream truncation', () => {
  it('a stream that ends without finish_reason and without [DONE] fails with APIConnectionError after its text', async () => {
    const { baseURL } = await serve([chunk({ role: 'assistant', content: '' }) + chunk({ content: 'Hel' })]);
    const seen: string[] = [];
    const error = await (async () => {
      for await (const p of model(baseURL)('Hi')) if (p.substream === '') seen.push(p.text ?? '');
    })().catch((e: unknown) => e);
    expect(seen).toEqual(['Hel']);
    expect(error).toBeInstanceOf(APIConnectionError);
    expect((error as APIConnectionError).message).toMatch(/ended without a finish_reason or \[DONE\]/);
    expect((error as APIConnectionError).hint).toMatch(/retry\(\)/);
  });

  it('finish_reason without [DONE] (llama.cpp, vLLM) is a complete answer', async () => {
    const { baseURL } = await serve([chunk({ content: 'Hello' }) + chunk({}, 'stop') + usage]);
    const parts = await model(baseURL)('Hi').gather();
    expect(parts.filter((p) => p.substream === '').map((p) => p.text)).toEqual(['Hello']);
    expect(parts.at(-1)?.metadata).toMatchObject({ finishReason: 'stop', usage: { totalTokens: 5 } });
  });

  it('[DONE] without finish_reason is a complete answer too', async () => {
    const { baseURL } = await serve([chunk({ content: 'Hello' }) + done]);
    const parts = await model(baseURL)('Hi').gather();
    expect(parts.filter((p) => p.substream === '').map((p) => p.text)).toEqual(['Hello']);
    expect(parts.at(-1)?.metadata.finishReason).toBeUndefined();
  });

  it('retry() resumes a truncated stream: the answer is whole, nothing repeated', async () => {
    const { baseURL, requests } = await serve([
      chunk({ content: 'Hello' }) + chunk({ content: ' wor' }),
      chunk({ content: 'Hello' }) + chunk({ content: ' world' }) + chunk({}, 'stop') + done,
    ]);
    const text = await retry(model(baseURL), { maxRetries: 1, initialRetryDelayMs: 1, maxRetryDelayMs: 1 })(
      'Hi',
    ).text();
    expect(text).toBe('Hello world');
    expect(requests).toHaveLength(2);
  });
});
