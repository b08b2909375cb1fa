import { once } from 'node:events';
import { createConnection } from 'node:net';
import { RedisServerError, startRedisServer } from '@sluice/processors/testing';
import { describe, expect, it } from 'vitest';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('startRedisServer()', () => {
  it('starts redis-server on 127.0.0.1 at a free port without persistence, and stops its own pid', async () => {
    const a = await startRedisServer();
    const b = await startRedisServer();
    expect(a.url).toMatch(/^redis:\/\/127\.0\.0\.1:\d+$/);
    expect(a.port).not.toBe(b.port);
    const socket = createConnection({ host: '127.0.0.1', port: a.port });
    await once(socket, 'connect');
    socket.write('CONFIG GET save\r\nCONFIG GET appendonly\r\n');
    let reply = '';
    for await (const chunk of socket) {
      reply += String(chunk);
      if (reply.split('\r\n').length >= 11) break;
    }
    socket.destroy();
    expect(reply).toContain('$4\r\nsave\r\n$0\r\n\r\n');
    expect(reply).toContain('$10\r\nappendonly\r\n$2\r\nno\r\n');
    await a.close();
    expect(alive(a.pid)).toBe(false);
    expect(alive(b.pid)).toBe(true);
    await b[Symbol.asyncDispose]();
    expect(alive(b.pid)).toBe(false);
  });

  it('without redis-server installed, fails with a coded error naming the Debian package', async () => {
    const error = await startRedisServer({ command: '/nonexistent/redis-server' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RedisServerError);
    expect((error as RedisServerError).code).toBe('E_REDIS_SERVER_MISSING');
    expect((error as RedisServerError).hint).toMatch(/apt-get install -y redis-server/);
  });
});
