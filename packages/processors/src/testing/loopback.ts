// Listening on loopback for the test servers: the origin to call, and every open connection
// tracked so that `close()` ends them at once (a stalled or held response never keeps a test
// waiting for keep-alive sockets to time out).

import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** A server listening on loopback, with its connections tracked. */
export interface LoopbackListener {
  /** `http://host:port` (IPv6 hosts in brackets). */
  readonly origin: string;
  /** Connections open now. */
  readonly openConnections: number;
  /** Destroys every open connection, then closes the server (once; later calls wait for the first). */
  close(): Promise<void>;
}

/** Starts `server` listening on `host` (default 127.0.0.1) and `port` (default a free one). */
export async function listenLoopback(
  server: Server,
  options: { port?: number; host?: string } = {},
): Promise<LoopbackListener> {
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.listen(options.port ?? 0, options.host ?? '127.0.0.1');
  await once(server, 'listening');
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  let closing: Promise<void> | undefined;
  return {
    origin: `http://${host}:${address.port}`,
    get openConnections() {
      return sockets.size;
    },
    close() {
      closing ??= (async () => {
        for (const socket of sockets) socket.destroy();
        if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
      })();
      return closing;
    },
  };
}
