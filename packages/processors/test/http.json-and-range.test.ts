// The HTTP layer's JSON request and resumable reader, against a real loopback server.

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  APITimeoutError,
  InternalServerError,
  NotFoundError,
  type ResumableEvent,
  RetriesExhaustedError,
  readResumable,
  requestJSON,
  UnexpectedResponseError,
} from '../src/index.ts';
import { type LoopbackListener, listenLoopback } from '../src/testing/index.ts';

let listener: LoopbackListener | undefined;
afterEach(async () => {
  await listener?.close();
  listener = undefined;
});

type Handler = (req: IncomingMessage, res: ServerResponse, n: number) => void;
async function serve(handler: Handler): Promise<{ origin: string; hits: () => number }> {
  let n = 0;
  listener = await listenLoopback(createServer((req, res) => handler(req, res, n++)));
  return { origin: listener.origin, hits: () => n };
}

const Thing = z.object({ id: z.string() });
const fast = { initialRetryDelayMs: 1, maxRetryDelayMs: 2 };

describe('requestJSON', () => {
  it('returns the validated body, retrying a GET after a 503', async () => {
    const server = await serve((_req, res, n) => {
      if (n === 0) {
        res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":{"message":"busy"}}');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"id":"a"}');
    });
    const value = await requestJSON({ url: `${server.origin}/x`, method: 'GET', provider: 'test' }, Thing, fast);
    expect(value).toEqual({ id: 'a' });
    expect(server.hits()).toBe(2);
  });

  it('never retries a POST unless it is idempotent', async () => {
    const server = await serve((_req, res) => res.writeHead(503).end('busy'));
    const request = { url: `${server.origin}/x`, method: 'POST' as const, provider: 'test', body: { a: 1 } };
    await expect(requestJSON(request, Thing, fast)).rejects.toBeInstanceOf(InternalServerError);
    expect(server.hits()).toBe(1);
    await expect(requestJSON({ ...request, idempotent: true }, Thing, fast)).rejects.toMatchObject({
      code: 'E_SERVER',
    });
    expect(server.hits()).toBe(1 + 3);
  });

  it('a body that is not JSON, or fails the schema, is UnexpectedResponseError naming the field', async () => {
    const server = await serve((req, res) => res.writeHead(200).end(req.url === '/html' ? '<html>' : '{"id":1}'));
    const notJSON = await requestJSON({ url: `${server.origin}/html`, method: 'GET', provider: 'test' }, Thing).catch(
      (e: unknown) => e,
    );
    expect(notJSON).toBeInstanceOf(UnexpectedResponseError);
    expect((notJSON as UnexpectedResponseError).code).toBe('E_BAD_RESPONSE');
    const wrong = await requestJSON({ url: `${server.origin}/n`, method: 'GET', provider: 'test' }, Thing).catch(
      (e: unknown) => e,
    );
    expect((wrong as Error).message).toMatch(/id: /);
  });

  it('a whole request longer than timeoutMs is APITimeoutError (timeoutMs), and the socket is closed', async () => {
    const server = await serve((_req, res) => res.writeHead(200).write('{"id":'));
    const error = await requestJSON({ url: `${server.origin}/slow`, method: 'GET', provider: 'test' }, Thing, {
      timeoutMs: 50,
      maxRetries: 0,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(APITimeoutError);
    expect((error as APITimeoutError).timeout).toBe('timeoutMs');
    await expect.poll(() => listener?.openConnections).toBe(0);
  });

  it('an abort rejects with the reason and sends no retry', async () => {
    const server = await serve(() => {});
    const controller = new AbortController();
    const reason = new Error('user stop');
    const pending = requestJSON({ url: `${server.origin}/x`, method: 'GET', provider: 'test' }, Thing, {
      signal: controller.signal,
    });
    await expect.poll(() => server.hits()).toBe(1);
    controller.abort(reason);
    await expect(pending).rejects.toBe(reason);
    expect(server.hits()).toBe(1);
  });
});

const body = Buffer.from('0123456789abcdefghij');

async function collect(events: AsyncIterable<ResumableEvent>): Promise<{ heads: ResumableEvent[]; bytes: string }> {
  const heads: ResumableEvent[] = [];
  let bytes = '';
  for await (const event of events) {
    if (event.type === 'response') {
      heads.push(event);
      if (event.restart) bytes = '';
    } else bytes += Buffer.from(event.chunk).toString();
  }
  return { heads, bytes };
}

describe('readResumable', () => {
  it('resumes a cut body with Range and If-Range, and yields every byte once', async () => {
    const ranges: (string | undefined)[] = [];
    const server = await serve((req, res, n) => {
      ranges.push(req.headers.range);
      if (n === 0) {
        res.writeHead(200, { 'content-length': String(body.length), etag: '"v1"' });
        res.write(body.subarray(0, 7), () => req.socket.destroy());
        return;
      }
      const start = Number(/bytes=(\d+)-/.exec(req.headers.range ?? '')?.[1]);
      expect(req.headers['if-range']).toBe('"v1"');
      res.writeHead(206, {
        'content-range': `bytes ${start}-${body.length - 1}/${body.length}`,
        'content-length': String(body.length - start),
        etag: '"v1"',
      });
      res.end(body.subarray(start));
    });
    const { heads, bytes } = await collect(readResumable(`${server.origin}/f`, fast));
    expect(bytes).toBe(body.toString());
    expect(ranges).toEqual([undefined, 'bytes=7-']);
    expect(heads.map((h) => h.type === 'response' && [h.status, h.total, h.restart])).toEqual([
      [200, 20, false],
      [206, 20, false],
    ]);
  });

  it('a server that sends the whole entity again is a restart, never a splice', async () => {
    const server = await serve((req, res, n) => {
      res.writeHead(200, { 'content-length': String(body.length), etag: `"v${n}"` });
      if (n === 0) res.write(body.subarray(0, 5), () => req.socket.destroy());
      else res.end(body);
    });
    const { heads, bytes } = await collect(readResumable(`${server.origin}/f`, fast));
    expect(bytes).toBe(body.toString());
    expect(heads.map((h) => h.type === 'response' && h.restart)).toEqual([false, true]);
  });

  it('a status that is not retried throws its typed error at once; retries run out with RetriesExhaustedError', async () => {
    const server = await serve((req, res) => res.writeHead(req.url === '/gone' ? 404 : 500).end('no'));
    await expect(collect(readResumable(`${server.origin}/gone`, fast))).rejects.toBeInstanceOf(NotFoundError);
    expect(server.hits()).toBe(1);
    const error = await collect(readResumable(`${server.origin}/boom`, { ...fast, maxRetries: 2 })).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(RetriesExhaustedError);
    expect((error as RetriesExhaustedError).message).toMatch(/HTTP 500.*gave up after 2 retries/);
    expect(server.hits()).toBe(1 + 3);
  });

  it('a Retry-After longer than failRetryAfterAboveMs fails at once', async () => {
    const server = await serve((_req, res) => res.writeHead(503, { 'retry-after': '600' }).end());
    const error = await collect(readResumable(`${server.origin}/f`, { failRetryAfterAboveMs: 1000 })).catch(
      (e: unknown) => e,
    );
    expect((error as Error).message).toMatch(/retry after 600000 ms, more than failRetryAfterAboveMs/);
    expect(server.hits()).toBe(1);
  });

  it.each([
    ['a body still arriving', false],
    ['a whole small body', true],
  ])('stopping at the response head of %s closes the socket quietly', async (_what, whole) => {
    const server = await serve((_req, res) => {
      res.writeHead(200, { 'content-length': whole ? String(body.length) : '1000000' });
      if (whole) res.end(body);
      else res.write(body);
    });
    const unhandled: unknown[] = [];
    const onError = (error: unknown) => unhandled.push(error);
    process.on('uncaughtException', onError);
    try {
      for await (const event of readResumable(`${server.origin}/f`)) if (event.type === 'response') break;
      await expect.poll(() => listener?.openConnections).toBe(0);
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('uncaughtException', onError);
    }
    expect(unhandled).toEqual([]);
  });

  it('breaking out closes the socket', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(200, { 'content-length': '1000000' });
      res.write(body);
    });
    for await (const event of readResumable(`${server.origin}/f`)) if (event.type === 'data') break;
    expect(server.hits()).toBe(1);
    await expect.poll(() => listener?.openConnections).toBe(0);
  });
});
