// Serves a Web fetch handler with node:http (the trace viewer, the chat example, your own app): the
// request's signal aborts when the client goes away, and then the response body is cancelled,
// which stops a pipeline behind `sseResponse`.

import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';

/** A Web-standard request handler, as Hono's `app.fetch` or a Deno/Bun server's. */
export type FetchHandler = (request: Request) => Promise<Response> | Response;

/** A running `serveFetch` server. */
export interface FetchServer {
  /** `http://host:port`. */
  readonly url: string;
  readonly server: Server;
  /** Closes every connection (an open stream included), then the server. */
  close(): Promise<void>;
}

/**
 * Serves `handler` on node:http at `host` (default 127.0.0.1) and `port` (default a free one).
 * Each request's `signal` aborts when its client disconnects, and the response body is then
 * cancelled, so a pipeline streamed with `sseResponse` stops (its `finally` blocks run). Response
 * bodies are written with backpressure; a handler that throws answers 500.
 */
export async function serveFetch(
  handler: FetchHandler,
  options: { port?: number; host?: string } = {},
): Promise<FetchServer> {
  const port = options.port ?? 0;
  const host = options.host ?? '127.0.0.1';
  const server = createServer((req, res) => void handle(handler, req, res));
  server.listen(port, host);
  await once(server, 'listening');
  const address = server.address() as AddressInfo;
  return {
    url: `http://${host}:${address.port}`,
    server,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function handle(handler: FetchHandler, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const controller = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) controller.abort(new DOMException('The client disconnected', 'AbortError'));
  });
  let response: Response;
  try {
    const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
    response = await handler(
      new Request(`http://${req.headers.host ?? 'localhost'}${req.url ?? '/'}`, {
        method: req.method,
        headers: req.headers as Record<string, string>,
        body: hasBody ? (Readable.toWeb(req) as ReadableStream<Uint8Array>) : undefined,
        signal: controller.signal,
        // @ts-expect-error: Node's fetch needs duplex for a streamed request body
        duplex: 'half',
      }),
    );
  } catch (error) {
    res.writeHead(500, { 'content-type': 'text/plain' }).end(`internal error: ${(error as Error).message}`);
    return;
  }
  res.writeHead(response.status, Object.fromEntries(response.headers));
  if (!response.body) {
    res.end();
    return;
  }
  const reader = response.body.getReader();
  const cancel = () => void reader.cancel(controller.signal.reason).catch(() => {});
  controller.signal.addEventListener('abort', cancel, { once: true });
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (!res.write(value)) await once(res, 'drain').catch(() => {});
    }
    res.end();
  } catch {
    res.destroy();
  } finally {
    controller.signal.removeEventListener('abort', cancel);
  }
}
