// Serves a Web fetch handler with node:http: the request's signal aborts when the client goes
// away, and then the response body is cancelled (which stops a pipeline behind sseResponse).

import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';

export type FetchHandler = (request: Request) => Promise<Response> | Response;

export async function serve(
  handler: FetchHandler,
  port: number,
  host: string,
): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => void handle(handler, req, res));
  server.listen(port, host);
  await once(server, 'listening');
  const address = server.address() as AddressInfo;
  return {
    url: `http://${host}:${address.port}`,
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
