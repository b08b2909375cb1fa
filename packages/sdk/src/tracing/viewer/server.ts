// startTraceViewer: one page over a store (calls with filters, a trace as a tree and waterfall,
// a call's parts, objects and their versions, feedback), live updates over SSE (sseResponse), and
// an OTLP/HTTP JSON receiver on POST /v1/traces writing into the same store.

import { jsonPart, type Part, sseResponse } from '@sluice/core';
import { Fifo } from '@sluice/streams';
import { serveFetch } from '../../serve-fetch.ts';
import { newCallId } from '../ids.ts';
import { type OtlpRequest, spansToCalls } from '../otlp-json.ts';
import { jsonlStore } from '../store/jsonl.ts';
import type { Tracing } from '../tracing.ts';
import type { CallQuery, Feedback, TraceRecord, TraceStore } from '../types.ts';
import { VIEWER_PAGE } from './page.ts';

export interface TraceViewerOptions {
  tracing?: Tracing;
  /** A store, or a folder of a jsonlStore; default the tracing's store. */
  store?: TraceStore | string;
  /** Default 0 (a free port). */
  port?: number;
  /** Default '127.0.0.1'. */
  host?: string;
  /** How often other processes' appends are read while a page is connected; default 1000 ms. */
  pollMs?: number;
}

export interface TraceViewer extends AsyncDisposable {
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Serves the viewer on `host:port` (127.0.0.1 and a free port by default) until `close()`.
 * Pages get live updates over server-sent events; `POST /v1/traces` takes OTLP/HTTP JSON from any
 * OpenTelemetry SDK. A store the viewer opened from a folder is closed with it.
 */
export async function startTraceViewer(options: TraceViewerOptions): Promise<TraceViewer> {
  const owned = typeof options.store === 'string';
  const store: TraceStore | undefined =
    typeof options.store === 'string' ? jsonlStore(options.store) : (options.store ?? options.tracing?.store);
  if (!store) throw new TypeError('startTraceViewer: pass { tracing } or { store } (a TraceStore or a folder)');
  const subscribers = new Set<Fifo<Part> & { wake?: () => void }>();
  const pollMs = options.pollMs ?? 1000;
  let poll: ReturnType<typeof setInterval> | undefined;
  const unsubscribe = store.subscribe((record) => {
    const event = eventOf(record);
    if (!event) return;
    for (const s of subscribers) {
      if (s.length < 1000) s.push(jsonPart(event));
      s.wake?.();
    }
  });

  const events = (signal: AbortSignal): AsyncIterable<Part> => {
    const queue = new Fifo<Part>() as Fifo<Part> & { wake?: () => void };
    subscribers.add(queue);
    poll ??= setInterval(() => void store.index().catch(() => {}), pollMs);
    const stop = () => {
      subscribers.delete(queue);
      if (subscribers.size === 0 && poll) {
        clearInterval(poll);
        poll = undefined;
      }
      queue.wake?.();
    };
    signal.addEventListener('abort', stop, { once: true });
    queue.push(jsonPart({ type: 'hello' }));
    return {
      [Symbol.asyncIterator]: () => ({
        next: async (): Promise<IteratorResult<Part>> => {
          while (queue.length === 0) {
            if (!subscribers.has(queue)) return { done: true, value: undefined };
            await new Promise<void>((resolve) => {
              queue.wake = resolve;
            });
            queue.wake = undefined;
          }
          return { done: false, value: queue.shift()! };
        },
        return: async () => {
          stop();
          return { done: true, value: undefined };
        },
      }),
    };
  };

  const json = (value: unknown, status = 200) =>
    new Response(JSON.stringify(value), { status, headers: { 'content-type': 'application/json' } });

  const handler = async (request: Request): Promise<Response> => {
    const url = new URL(request.url);
    const path = url.pathname;
    if (request.method === 'GET' && path === '/') {
      return new Response(VIEWER_PAGE, { headers: { 'content-type': 'text/html; charset=utf-8' } });
    }
    if (request.method === 'GET' && path === '/api/calls') {
      const q = url.searchParams;
      const query: CallQuery = { limit: Number(q.get('limit') ?? 200) };
      const ops = q.getAll('op').filter(Boolean);
      if (ops.length) query.op = ops;
      if (q.get('status')) query.status = q.get('status') as CallQuery['status'];
      if (q.get('traceId')) query.traceId = q.get('traceId')!;
      if (q.get('rootsOnly') === '1') query.rootsOnly = true;
      if (q.get('sort') === 'startedAt') query.sort = 'startedAt';
      const index = await store.index();
      return json({ calls: index.calls(query), ops: [...index.byOp.keys()].sort() });
    }
    let m = /^\/api\/calls\/([0-9a-f]+)$/.exec(path);
    if (request.method === 'GET' && m) {
      const call = (await store.index()).call(m[1]!);
      return call ? json(call) : json({ error: 'no such call' }, 404);
    }
    m = /^\/api\/blobs\/(sha256:[0-9a-f]+)$/.exec(path);
    if (request.method === 'GET' && m) {
      const blob = (await store.index()).blobs.get(m[1]!);
      if (!blob) return json({ error: 'no such blob' }, 404);
      return new Response(Buffer.from(blob.data, 'base64'), { headers: { 'content-type': blob.mimetype } });
    }
    if (request.method === 'GET' && path === '/api/objects') {
      return json({ objects: (await store.index()).listObjects({}) });
    }
    if (request.method === 'POST' && path === '/api/feedback') {
      const body = (await request.json().catch(() => undefined)) as
        | { callId?: string; type?: string; payload?: unknown }
        | undefined;
      if (!body || typeof body.callId !== 'string' || typeof body.type !== 'string' || body.type === '') {
        return json({ error: 'expected { callId, type, payload? }' }, 400);
      }
      const index = await store.index();
      if (!index.byId.has(body.callId)) return json({ error: 'no such call' }, 404);
      const feedback: Feedback = { id: newCallId(), callId: body.callId, type: body.type, createdAt: Date.now() };
      if (body.payload !== undefined) feedback.payload = body.payload;
      store.write({ kind: 'feedback', feedback });
      return json(feedback, 201);
    }
    if (request.method === 'GET' && path === '/api/events') {
      return sseResponse(events(request.signal), { heartbeatMs: 15_000 });
    }
    if (request.method === 'POST' && path === '/v1/traces') {
      const type = request.headers.get('content-type') ?? '';
      if (!type.includes('json')) {
        return json({ code: 3, message: 'this receiver takes OTLP/HTTP JSON (content-type application/json)' }, 415);
      }
      let body: OtlpRequest;
      try {
        body = (await request.json()) as OtlpRequest;
      } catch {
        return json({ code: 3, message: 'the body is not JSON' }, 400);
      }
      const calls = spansToCalls(body);
      for (const call of calls) store.write({ kind: 'call', call });
      return json({});
    }
    return json({ error: 'not found' }, 404);
  };

  const server = await serveFetch(handler, { port: options.port ?? 0, host: options.host ?? '127.0.0.1' });
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      unsubscribe();
      if (poll) clearInterval(poll);
      poll = undefined;
      for (const s of [...subscribers]) {
        subscribers.delete(s);
        s.wake?.();
      }
      await server.close();
      if (owned) await store.close();
      else await store.flush();
    })();
    return closing;
  };
  return { url: server.url, close, [Symbol.asyncDispose]: close };
}

function eventOf(record: TraceRecord): Record<string, unknown> | undefined {
  switch (record.kind) {
    case 'call':
      return { type: 'call', id: record.call.id, traceId: record.call.traceId, status: record.call.status };
    case 'feedback':
      return { type: 'feedback', callId: record.feedback.callId };
    case 'delete-call':
      return { type: 'delete-call', ids: record.ids };
    case 'object':
    case 'delete-object':
      return { type: 'object', name: record.name };
    default:
      return undefined;
  }
}
