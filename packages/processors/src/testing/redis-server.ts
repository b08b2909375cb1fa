// A real Redis for tests: Debian's `redis-server` started on loopback at a free port, with no
// persistence, stopped by its own pid. Nothing here loads a Redis client: readiness is the
// server's own "Ready to accept connections" line, confirmed by a raw PING over TCP.

import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createConnection, createServer } from 'node:net';
import { SluiceError } from '@sluice/streams';

/** A running `redis-server` child process. */
export interface RedisServer extends AsyncDisposable {
  /** `redis://127.0.0.1:<port>`, for `distributed`, `serve`, `redisQueue` and the Redis stores. */
  readonly url: string;
  readonly port: number;
  /** The server's process id (the one `close()` stops). */
  readonly pid: number;
  /** Stops the server (SIGTERM, then SIGKILL after 2 s) and waits for it to exit. Idempotent. */
  close(): Promise<void>;
}

/** Options of `startRedisServer`. */
export interface RedisServerOptions {
  /** The executable; default `redis-server` from PATH (Debian's package `redis-server`). */
  command?: string;
  /** Milliseconds to wait for the server to accept connections. Default 10,000. */
  startTimeoutMs?: number;
}

/** `redis-server` is not installed (or could not start). */
export class RedisServerError extends SluiceError {
  override name = 'RedisServerError';
  constructor(
    readonly reason: 'missing' | 'failed',
    message: string,
    options: { hint?: string; cause?: unknown } = {},
  ) {
    super(reason === 'missing' ? 'E_REDIS_SERVER_MISSING' : 'E_REDIS_SERVER_FAILED', message, options);
  }
}

/**
 * Starts `redis-server` on 127.0.0.1 at a free port with no persistence (`--save ""
 * --appendonly no`) and resolves once it answers PING. Throws `RedisServerError` (code
 * 'E_REDIS_SERVER_MISSING', naming the Debian package) when the executable is not installed.
 * The server is stopped by `close()` / `await using`, and killed if this process exits first.
 */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  const command = options.command ?? 'redis-server';
  const deadline = Date.now() + (options.startTimeoutMs ?? 10_000);
  let lastError: unknown;
  // A free port can be taken between probing and binding: try a few.
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    try {
      return await launch(command, port, deadline);
    } catch (error) {
      if (error instanceof RedisServerError && error.reason === 'missing') throw error;
      lastError = error;
    }
  }
  throw lastError;
}

async function launch(command: string, port: number, deadline: number): Promise<RedisServer> {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  args.push('--daemonize', 'no', '--protected-mode', 'yes');
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  let output = '';
  // `once` rejects on 'error' (a failed spawn): either way the process is gone.
  const exited = once(child, 'exit').then(
    () => undefined,
    () => undefined,
  );
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new RedisServerError('failed', `redis-server did not start within the timeout on port ${port}`)),
        Math.max(0, deadline - Date.now()),
      );
      const onData = (chunk: Buffer) => {
        output += chunk.toString('utf8');
        if (output.includes('Ready to accept connections')) done();
      };
      const done = (error?: unknown) => {
        clearTimeout(timer);
        child.stdout!.off('data', onData);
        child.off('error', onError);
        child.off('exit', onExit);
        if (error) reject(error);
        else resolve();
      };
      const onError = (error: NodeJS.ErrnoException) =>
        done(
          error.code === 'ENOENT'
            ? new RedisServerError('missing', `startRedisServer: ${command} was not found (is Redis installed?)`, {
                hint: "install Debian's package: `apt-get install -y redis-server` (scripts/install.sh does it)",
                cause: error,
              })
            : new RedisServerError('failed', `startRedisServer: could not run ${command}: ${error.message}`, {
                cause: error,
              }),
        );
      const onExit = (code: number | null) =>
        done(
          new RedisServerError('failed', `redis-server exited (code ${code}) before it was ready: ${output.trim()}`),
        );
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('error', onError);
      child.once('exit', onExit);
    });
    await ping(port);
  } catch (error) {
    process.off('exit', killOnExit);
    if (child.pid !== undefined) {
      child.kill('SIGKILL');
      await exited;
    }
    throw error;
  }
  // Keep draining its output so the pipe never fills.
  child.stdout!.resume();
  child.stderr!.resume();
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= stop(child, exited).finally(() => process.off('exit', killOnExit));
    return closing;
  };
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    pid: child.pid!,
    close,
    [Symbol.asyncDispose]: close,
  };
}

async function stop(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
  try {
    await exited;
  } finally {
    clearTimeout(timer);
  }
}

/** A port that was free a moment ago on 127.0.0.1. */
async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Sends PING over a raw socket and waits for +PONG. */
async function ping(port: number): Promise<void> {
  const socket = createConnection({ host: '127.0.0.1', port });
  try {
    await once(socket, 'connect');
    socket.write('PING\r\n');
    let reply = '';
    for await (const chunk of socket) {
      reply += (chunk as Buffer).toString('utf8');
      if (reply.includes('\r\n')) break;
    }
    if (!reply.startsWith('+PONG')) throw new RedisServerError('failed', `redis-server answered PING with ${reply}`);
  } finally {
    socket.destroy();
  }
}
