// Connections to Redis through node-redis. Commands go over one shared connection per URL (node-redis
// pipelines the commands of one tick into one write); every blocking read gets a connection of its
// own, which `unblock` ends with CLIENT UNBLOCK from the shared one, so shutdown never waits for a
// BLOCK timeout.

import { createHash } from 'node:crypto';
import { createClient, RESP_TYPES } from 'redis';
import { RedisConnectionError } from './errors.ts';

type Client = ReturnType<typeof makeClient>;

/**
 * RESP2 replies (flat arrays, as in the Redis docs and inside Lua); pub/sub has its own connection
 * anyway. No per-command timeout: node-redis's default (5 s) would end blocking reads (BLOCK 10 s)
 * and costs a timer per command; a dead connection is seen by the socket and `reconnectStrategy`.
 * The options are the same for every connection to one URL (the name is set after connecting):
 * node-redis builds its client class (every command of every module, tens of MB) once per distinct
 * options and caches only the last one, so a name of its own per connection would rebuild it on
 * every connection.
 */
function makeClient(url: string, reconnectStrategy: (retries: number, cause: Error) => number | Error) {
  return createClient({ url, RESP: 2, socket: { reconnectStrategy }, commandOptions: { timeout: 0 } });
}
export type RedisArg = string | Buffer;

const BUFFERS = { [RESP_TYPES.BLOB_STRING]: Buffer } as const;

/** One connection to Redis. */
export class Connection {
  readonly #client: Client;
  readonly url: string;
  #closed = false;
  #id = 0;

  private constructor(client: Client, url: string) {
    this.#client = client;
    this.url = url;
  }

  /** Opens a connection; rejects with `RedisConnectionError` when Redis does not answer. */
  static async open(url: string, name: string): Promise<Connection> {
    let ready = false;
    // Fail fast on the first connection (a wrong URL is an error now); once connected, ride out
    // short outages with backoff, then give up so callers see an error instead of hanging.
    const client = makeClient(url, (retries, cause) =>
      !ready || retries >= 20 ? cause : Math.min(50 * 2 ** retries, 1000),
    );
    // node-redis throws unhandled 'error' events; commands reject on their own, so listen quietly.
    client.on('error', () => {});
    try {
      await client.connect();
    } catch (error) {
      client.destroy();
      throw new RedisConnectionError(`could not connect to Redis at ${redact(url)}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    ready = true;
    const connection = new Connection(client, url);
    // The name (CLIENT LIST) again after a reconnect; the first one below, where its error is seen.
    client.on('ready', () => void client.sendCommand(['CLIENT', 'SETNAME', name]).catch(() => {}));
    try {
      // Asked now: once the connection blocks (XREADGROUP BLOCK), a CLIENT ID would wait behind it.
      const [, id] = await Promise.all([
        client.sendCommand(['CLIENT', 'SETNAME', name]),
        client.sendCommand(['CLIENT', 'ID']),
      ]);
      connection.#id = Number(id);
    } catch (error) {
      client.destroy();
      throw new RedisConnectionError(
        `could not set up the connection to Redis at ${redact(url)}: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
    return connection;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Sends one command; replies keep node-redis's RESP2 shapes (strings, arrays, numbers, null). */
  send<T = unknown>(args: readonly RedisArg[]): Promise<T> {
    return this.#client.sendCommand<T>(args);
  }

  /** Sends one command whose bulk-string replies come back as Buffers. */
  sendForBuffers<T = unknown>(args: readonly RedisArg[]): Promise<T> {
    return this.#client.sendCommand<T>(args, { typeMapping: BUFFERS });
  }

  /** Runs a Lua script (EVALSHA, loading it on NOSCRIPT). */
  async eval<T = unknown>(script: Script, keys: readonly string[], args: readonly RedisArg[]): Promise<T> {
    const tail = [String(keys.length), ...keys, ...args];
    try {
      return await this.send<T>(['EVALSHA', script.sha, ...tail]);
    } catch (error) {
      if (!String((error as Error).message).startsWith('NOSCRIPT')) throw error;
      return this.send<T>(['EVAL', script.source, ...tail]);
    }
  }

  /** This connection's CLIENT ID (what CLIENT UNBLOCK takes), read when it was opened. */
  get id(): number {
    return this.#id;
  }

  /** Subscribes this (dedicated) connection to a channel. */
  async subscribe(channel: string, listener: (message: string) => void): Promise<void> {
    await this.#client.subscribe(channel, (message: string) => listener(message));
  }

  /** Drops the socket at once: pending commands reject. */
  destroy(): void {
    this.#closed = true;
    this.#client.destroy();
  }

  /** Closes the socket (pending replies are awaited first; idempotent). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.#client.close();
    } catch {
      this.#client.destroy();
    }
  }
}

/** A Lua script with its SHA1, for EVALSHA. */
export interface Script {
  readonly source: string;
  readonly sha: string;
}

export function script(source: string): Script {
  return { source, sha: createHash('sha1').update(source).digest('hex') };
}

/**
 * Ends the blocking read of `loop` on `blocked` (an XREADGROUP BLOCK, say) with CLIENT UNBLOCK sent
 * from `via`; the read returns empty and the loop, which checks its own stop flag, ends. A read
 * already sent but not yet blocking when the UNBLOCK arrives is not affected (the reply is 0), so
 * the UNBLOCK is repeated until the loop has ended; after ~2 s the connection is destroyed.
 */
export async function unblock(via: Connection, blocked: Connection, loop: Promise<unknown>): Promise<void> {
  let ended = false;
  void loop.then(
    () => (ended = true),
    () => (ended = true),
  );
  for (let attempt = 0; attempt < 200 && !ended; attempt++) {
    if (via.closed || blocked.closed) break;
    try {
      await via.send(['CLIENT', 'UNBLOCK', String(blocked.id)]);
    } catch {
      break;
    }
    await Promise.race([loop.catch(() => {}), new Promise((resolve) => setTimeout(resolve, 10))]);
  }
  if (!ended) blocked.destroy();
  await loop.catch(() => {});
}

interface Shared {
  connection: Promise<Connection>;
  users: number;
}
const shared = new Map<string, Shared>();

/** A lease on the process's shared command connection to `url`; `release()` closes it with the last user. */
export interface Lease {
  readonly connection: Connection;
  release(): Promise<void>;
}

/** Takes a lease on the shared command connection to `url` (opened on first use). */
export async function lease(url: string): Promise<Lease> {
  let entry = shared.get(url);
  if (!entry) {
    const created: Shared = { connection: Connection.open(url, 'sluice'), users: 0 };
    entry = created;
    shared.set(url, created);
    created.connection.catch(() => {
      if (shared.get(url) === created) shared.delete(url);
    });
  }
  entry.users++;
  let connection: Connection;
  try {
    connection = await entry.connection;
  } catch (error) {
    entry.users--;
    throw error;
  }
  const held = entry;
  let released = false;
  return {
    connection,
    release: async () => {
      if (released) return;
      released = true;
      if (--held.users > 0) return;
      if (shared.get(url) === held) shared.delete(url);
      await connection.close();
    },
  };
}

/** The URL without its password, for messages. */
export function redact(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}
