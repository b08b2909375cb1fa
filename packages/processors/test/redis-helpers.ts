// Helpers of the redis tests: worker processes spawned with tsx, a plain node-redis client for
// looking at Redis state, and polling with a deadline where Redis state has no event to wait on.

import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type RedisServer, startRedisServer } from '@sluice/processors/testing';
import { createClient } from 'redis';
import { onTestFinished } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
export const FIXTURES = join(here, 'redis-fixtures');

/** A child process running a fixture, with its stdout lines. */
export interface Child {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly lines: string[];
  /** Resolves when a stdout line matches (already printed ones count). */
  line(match: string | RegExp): Promise<string>;
  /** Resolves when the process has exited. */
  readonly exited: Promise<void>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

const children = new Set<Child>();

export function spawnFixture(file: string, env: Record<string, string>): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', join(FIXTURES, file)], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const waiters: { match: string | RegExp; resolve: (line: string) => void }[] = [];
  let stderr = '';
  const matches = (line: string, match: string | RegExp) =>
    typeof match === 'string' ? line === match : match.test(line);
  let buffer = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    buffer += chunk.toString('utf8');
    let nl = buffer.indexOf('\n');
    while (nl >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      lines.push(line);
      for (const w of [...waiters]) {
        if (matches(line, w.match)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(line);
        }
      }
      nl = buffer.indexOf('\n');
    }
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  const exited = once(child, 'exit').then(() => undefined);
  const handle: Child = {
    child,
    pid: child.pid!,
    lines,
    exited,
    line: (match) => {
      const found = lines.find((l) => matches(l, match));
      if (found !== undefined) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        waiters.push({ match, resolve });
        void exited.then(() =>
          reject(new Error(`${file} (pid ${child.pid}) exited before printing ${String(match)}; stderr: ${stderr}`)),
        );
      });
    },
    kill: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
  children.add(handle);
  void exited.then(() => children.delete(handle));
  return handle;
}

/** Starts the worker fixture and waits until it serves. */
export async function startWorker(url: string, env: Record<string, string> = {}): Promise<Child> {
  const worker = spawnFixture('worker.ts', { REDIS_URL: url, ...env });
  await worker.line('ready');
  return worker;
}

/** Kills every fixture process still running (SIGKILL), by its own pid. */
export async function killChildren(): Promise<void> {
  await Promise.all([...children].map((c) => c.kill('SIGKILL')));
}

function inspector(url: string) {
  const client = createClient({ url, RESP: 2 });
  client.on('error', () => {});
  return client;
}
export type Inspector = ReturnType<typeof inspector>;

/**
 * A Redis server for the current test and a client to look at its state. Call it inside a test:
 * when the test ends (passed or failed) the fixture processes are killed, the client closed and
 * the server stopped (vitest's onTestFinished, which runs the last registered first, so cleanups a
 * test registers after this one run before it).
 */
export async function redisForTest(): Promise<{ server: RedisServer; redis: Inspector }> {
  const server = await startRedisServer();
  const redis = inspector(server.url);
  onTestFinished(async () => {
    await killChildren();
    redis.destroy();
    await server.close();
  });
  await redis.connect();
  return { server, redis };
}

/**
 * Polls `probe` until it returns a value other than undefined, or throws after `timeoutMs`. For
 * Redis state that has no event to wait on; each probe is a round trip, spaced 20 ms.
 */
export async function waitFor<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Parts the workers' group still has to deliver or acknowledge for `processor` (0 when all handled). */
export async function unfinished(redis: Inspector, processor: string, namespace = 'sluice'): Promise<number> {
  const groups = (await redis.sendCommand([
    'XINFO',
    'GROUPS',
    `${namespace}:proc:{${processor}}:parts`,
  ])) as unknown[][];
  let total = 0;
  for (const g of groups) {
    const info: Record<string, unknown> = {};
    for (let k = 0; k < g.length; k += 2) info[String(g[k])] = g[k + 1];
    total += Number(info.pending) + Number(info.lag ?? 0);
  }
  return total;
}
