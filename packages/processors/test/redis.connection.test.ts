import { partProcessor } from '@sluice/core';
import { serve } from '@sluice/processors/redis';
import { describe, expect, it } from 'vitest';
import { Connection } from '../src/redis/connection.ts';
import { redisForTest } from './redis-helpers.ts';

describe('connections to Redis', () => {
  it('carry their own names in CLIENT LIST (set after connecting, the client options being the same)', async () => {
    const t = await redisForTest();
    const a = await Connection.open(t.server.url, 'sluice-test-a');
    const b = await Connection.open(t.server.url, 'sluice-test-b');
    try {
      const list = String(await t.redis.sendCommand(['CLIENT', 'LIST']));
      expect(list).toMatch(new RegExp(`id=${a.id} .*name=sluice-test-a `));
      expect(list).toMatch(new RegExp(`id=${b.id} .*name=sluice-test-b `));
      expect(await a.send(['PING'])).toBe('PONG');
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('serve refuses a worker name Redis cannot take as a connection name, before connecting', async () => {
    const echo = partProcessor((p) => p);
    const error = await serve({ echo }, { redis: 'redis://127.0.0.1:1', name: 'my worker' }).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'RedisOptionError', code: 'E_REDIS_OPTION' });
    expect((error as Error).message).toMatch(/options\.name .*"my worker"/);
  });
});
