import { catchErrors, EXCEPTION_MIMETYPE } from '@sluice/core';
import { distributed, RemoteProcessorError } from '@sluice/processors/redis';
import { describe, expect, it } from 'vitest';
import { redisForTest, startWorker, waitFor } from './redis-helpers.ts';

const CLAIM_IDLE_MS = 400;

describe('distributed(): at-least-once delivery', () => {
  it('a worker killed with SIGKILL mid-part: another worker redoes it, each output is emitted once', async () => {
    const t = await redisForTest();
    const victim = await startWorker(t.server.url, { ROLE: 'victim', CONCURRENCY: '1' });
    const remote = distributed('victim', { redis: t.server.url, claimIdleMs: CLAIM_IDLE_MS, concurrency: 2 });
    const iterator = remote(['v']);
    const emitted: string[] = [];
    const reading = (async () => {
      for await (const part of iterator) emitted.push(part.text!);
    })();
    // The victim sent 'v:0' and holds the part: kill it there, then start a healthy worker.
    await waitFor(async () => ((await t.redis.lLen('holding')) > 0 ? true : undefined), 'the victim to hold the part');
    await victim.kill('SIGKILL');
    await startWorker(t.server.url, { CONCURRENCY: '1', CLAIM_IDLE_MS: String(CLAIM_IDLE_MS) });
    await reading;
    expect(emitted).toEqual(['v:0', 'v:1', 'v:2']);
    // Two deliveries, and the part is acknowledged by the second worker.
    const pending = (await t.redis.sendCommand(['XPENDING', 'sluice:proc:{victim}:parts', 'workers'])) as unknown[];
    expect(Number(pending[0])).toBe(0);
  });

  it('a part running longer than claimIdleMs on a live worker is not taken over (heartbeats)', async () => {
    const t = await redisForTest();
    // Two idle-capable workers; the one that takes the part runs it for 4 x claimIdleMs, while
    // the other looks for idle parts every claimIdleMs / 4.
    const env = { CONCURRENCY: '1', CLAIM_IDLE_MS: '1000' };
    await Promise.all([1, 2].map(() => startWorker(t.server.url, env)));
    const remote = distributed('long', { redis: t.server.url, claimIdleMs: 1000 });
    const out = await remote(['4000']).gather();
    expect(out.map((p) => p.text)).toEqual(['4000:done']);
    // Started once: the heartbeats kept it from being claimed by the other worker.
    expect(await t.redis.lRange('long-started', 0, -1)).toHaveLength(1);
    const pending = (await t.redis.sendCommand(['XPENDING', 'sluice:proc:{long}:parts', 'workers'])) as unknown[];
    expect(Number(pending[0])).toBe(0);
  });

  it('a poison part whose worker dies every time goes to the dead-letter stream and fails with E_REMOTE', async () => {
    const t = await redisForTest();
    const env = { CONCURRENCY: '1', CLAIM_IDLE_MS: String(CLAIM_IDLE_MS) };
    await Promise.all([1, 2, 3].map(() => startWorker(t.server.url, env)));
    const remote = distributed('poison', { redis: t.server.url, claimIdleMs: CLAIM_IDLE_MS, maxDeliveries: 2 });
    const out = await catchErrors(remote)(['a', 'poison', 'b']).gather();
    expect(out.map((p) => p.text)).toEqual([
      'a:ok',
      expect.stringMatching(
        /^RemoteProcessorError: poison failed on a worker: DeliveryLimitError: part 1 was delivered 2 times/,
      ),
      'b:ok',
    ]);
    expect(out[1]!.mimetype).toBe(EXCEPTION_MIMETYPE);
    // Two workers died on it; the third moved it to the dead-letter stream without running it.
    expect(await t.redis.lLen('poisoned')).toBe(2);
    const dead = (await t.redis.sendCommand(['XRANGE', 'sluice:proc:{poison}:dead', '-', '+'])) as [string, string[]][];
    expect(dead).toHaveLength(1);
    const fields = dead[0]![1];
    expect(fields[fields.indexOf('deliveries') + 1]).toBe('2');
    expect(fields[fields.indexOf('maxDeliveries') + 1]).toBe('2');
    expect(fields[fields.indexOf('i') + 1]).toBe('1');
    expect(fields[fields.indexOf('caller') + 1]).toMatch(/^[\w-]{16}$/);
    expect(JSON.parse(fields[fields.indexOf('p') + 1]!).text).toBe('poison');

    // Without catchErrors the run fails with it (one delivery allowed: one more worker dies, the last one gives up).
    await startWorker(t.server.url, env);
    const once = distributed('poison', { redis: t.server.url, claimIdleMs: CLAIM_IDLE_MS, maxDeliveries: 1 });
    const error = await once(['poison'])
      .gather()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RemoteProcessorError);
    expect((error as RemoteProcessorError).code).toBe('E_REMOTE');
    expect((error as RemoteProcessorError).remote.code).toBe('E_MAX_DELIVERIES');
  });
});
