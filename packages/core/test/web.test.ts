import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { dataPart, processor, readParts, SluiceError, sseResponse, statusPart, textPart } from '../src/index.ts';
import { streamContent } from '../src/testing.ts';

let server: Server | undefined;
afterEach(async () => {
  vi.useRealTimers();
  if (server) {
    server.closeAllConnections();
    await new Promise((resolve) => server!.close(resolve));
    server = undefined;
  }
});

/** What a Node adapter (e.g. @hono/node-server) does: write the Response, cancel its body when the client leaves. */
async function serve(handler: () => Response): Promise<string> {
  server = createServer(async (_req, res) => {
    const response = handler();
    res.writeHead(response.status, Object.fromEntries(response.headers));
    const reader = response.body!.getReader();
    res.on('close', () => void reader.cancel().catch(() => {}));
    try {
      while (true) {
        const { done, value } = await reader.read();
        if (done) break;
        res.write(value);
      }
      res.end();
    } catch {
      res.destroy();
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}

describe('sseResponse / readParts', () => {
  it('round-trips parts of every kind over a Response, in order', async () => {
    const parts = [
      textPart('hé', { role: 'model' }),
      statusPart('s', { metadata: { n: 1 } }),
      dataPart(Uint8Array.of(0, 255), 'image/png'),
    ];
    const response = sseResponse(streamContent(parts));
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    expect(await readParts(response).gather()).toEqual(parts);
  });

  it('a failure is sent as a last error event and thrown by readParts with its name and message', async () => {
    const failing = processor(async function* () {
      yield 'before';
      throw new RangeError('model overloaded');
    });
    const received: string[] = [];
    const error = await (async () => {
      for await (const p of readParts(sseResponse(failing()))) received.push(p.text!);
    })().catch((e) => e);
    expect(received).toEqual(['before']);
    expect(error).toMatchObject({ name: 'RangeError', message: 'model overloaded' });
  });

  it('a coded error keeps its code and hint across the wire, never its stack', async () => {
    const failing = processor(async function* () {
      yield 'before';
      throw new SluiceError('E_WIDGET', 'widget: expected 3, found 2', { hint: 'file it down' });
    });
    const response = sseResponse(failing());
    const text = await response.clone().text();
    expect(text).not.toContain('at ');
    const error = await readParts(response)
      .gather()
      .catch((e) => e);
    expect(error).toMatchObject({ name: 'SluiceError', code: 'E_WIDGET', hint: 'file it down' });
    expect(error.message).toBe('widget: expected 3, found 2');
  });

  it('sends heartbeats while the pipeline is silent', async () => {
    vi.useFakeTimers();
    const response = sseResponse(streamContent([textPart('late')], { delayMs: 100, delayFirst: true }), {
      heartbeatMs: 30,
    });
    const text = response.text();
    await vi.runAllTimersAsync();
    expect((await text).split(': ping').length - 1).toBe(3 + 3);
  });

  it('stops the pipeline when the HTTP client disconnects', async () => {
    let finallyRan!: () => void;
    const stopped = new Promise<void>((resolve) => {
      finallyRan = resolve;
    });
    let signalAborted = false;
    const endless = processor(async function* (_input, ctx) {
      try {
        for (let i = 0; ; i++) {
          yield `token${i} `;
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      } finally {
        signalAborted = ctx.signal.aborted;
        finallyRan();
      }
    });
    const url = await serve(() => sseResponse(endless()));
    const controller = new AbortController();
    const response = await fetch(url, { signal: controller.signal });
    const seen: string[] = [];
    for await (const p of readParts(response)) {
      seen.push(p.text!);
      if (seen.length === 3) break;
    }
    expect(seen).toEqual(['token0 ', 'token1 ', 'token2 ']);
    await stopped;
    expect(signalAborted).toBe(true);
  });

  it('readParts refuses a non-OK response with a clear error', async () => {
    await expect(readParts(new Response('nope', { status: 500 })).gather()).rejects.toThrow(/500/);
  });
});
