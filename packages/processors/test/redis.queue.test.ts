import { type RedisQueue, redisQueue } from '@sluice/processors/redis';
import { dequeue, enqueue, gather, QueueClosedError, streamContent } from '@sluice/streams';
import { describe, expect, it } from 'vitest';
import { redisForTest, spawnFixture } from './redis-helpers.ts';

describe('redisQueue()', () => {
  it('across processes: within a group each item goes to one consumer; every group sees every item', async () => {
    const t = await redisForTest();
    const url = t.server.url;
    // Consumers exist (groups created) before the producer process starts.
    const g1 = dequeue(redisQueue<{ n: number }>('jobs', { redis: url, group: 'g' }));
    const g2 = dequeue(redisQueue<{ n: number }>('jobs', { redis: url, group: 'g' }));
    const h = dequeue(redisQueue<{ n: number }>('jobs', { redis: url, group: 'h' }));
    const first = [g1, g2, h].map((s) => s[Symbol.asyncIterator]());
    const heads = first.map((it) => it.next());
    const producer = spawnFixture('queue-producer.ts', { REDIS_URL: url, QUEUE: 'jobs', ITEMS: '40' });
    const rest = async (it: AsyncIterator<{ n: number }>, head: Promise<IteratorResult<{ n: number }>>) => {
      const out: number[] = [];
      const r = await head;
      if (!r.done) out.push(r.value.n);
      for (let x = await it.next(); !x.done; x = await it.next()) out.push(x.value.n);
      return out;
    };
    const [a, b, all] = await Promise.all(first.map((it, k) => rest(it, heads[k]!)));
    await producer.line('done');
    const all40 = Array.from({ length: 40 }, (_, n) => n);
    expect(all).toEqual(all40); // group h: every item, in order
    expect([...a!, ...b!].sort((x, y) => x - y)).toEqual(all40); // group g: each item once
    expect(a!.length).toBeGreaterThan(0);
    expect(b!.length).toBeGreaterThan(0);
  });

  it('put waits while the group backlog is at highWaterMark, and resolves when a consumer catches up', async () => {
    const t = await redisForTest();
    const queue = redisQueue<string>('hwm', { redis: t.server.url, highWaterMark: 3 });
    for (const item of ['a', 'b', 'c']) await queue.put(item);
    expect(queue.size).toBe(3);
    let landed = false;
    const fourth = queue.put('d').then(() => (landed = true));
    const consumer = redisQueue<string>('hwm', { redis: t.server.url })[Symbol.asyncIterator]();
    expect((await consumer.next()).value).toBe('a');
    // 'a' is read but not acknowledged: the backlog is still 3, so 'd' has not been added.
    expect(await t.redis.xLen('sluice:queue:{hwm}')).toBe(3);
    expect(landed).toBe(false);
    // Asking for the next item acknowledges 'a': room for 'd'.
    expect((await consumer.next()).value).toBe('b');
    await fourth;
    expect(await t.redis.xLen('sluice:queue:{hwm}')).toBe(4);
    queue.close();
    expect((await consumer.next()).value).toBe('c');
    expect((await consumer.next()).value).toBe('d');
    expect((await consumer.next()).done).toBe(true);
  });

  it('fail(err) makes consumers throw that name and message once drained; put after close throws', async () => {
    const t = await redisForTest();
    const producer = redisQueue<number>('f', { redis: t.server.url });
    const consumer = redisQueue<number>('f', { redis: t.server.url });
    await enqueue(streamContent([1, 2]), producer).catch(() => {});
    // enqueue closed queue f; fail() is tried on another queue, f2.
    const failing = redisQueue<number>('f2', { redis: t.server.url });
    const reader = redisQueue<number>('f2', { redis: t.server.url });
    const reading = gather(dequeue(reader)).catch((e: unknown) => e);
    await failing.put(7);
    await failing.put(8);
    failing.fail(new TypeError('bad batch'));
    const error = (await reading) as Error;
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('TypeError');
    expect(error.message).toBe('bad batch');
    expect(await gather(dequeue(consumer))).toEqual([1, 2]);
    expect(() => producer.put(3)).toThrow(QueueClosedError);
    // Closed in another process's instance: this one's put rejects with the same error.
    const other = redisQueue<number>('f', { redis: t.server.url });
    await expect(other.put(3)).rejects.toBeInstanceOf(QueueClosedError);
    await (other as RedisQueue<number>).disconnect();
  });

  it('a consumer that stops early leaves the queue to the others, and its item stays delivered', async () => {
    const t = await redisForTest();
    const queue = redisQueue<string>('early', { redis: t.server.url });
    for (const item of ['x', 'y', 'z']) await queue.put(item);
    for await (const item of dequeue(redisQueue<string>('early', { redis: t.server.url }))) {
      expect(item).toBe('x');
      break;
    }
    await queue.put('w'); // not cancelled for everyone
    queue.close();
    expect(await gather(dequeue(redisQueue<string>('early', { redis: t.server.url })))).toEqual(['y', 'z', 'w']);
    // Every consumer left with nothing pending: none is left in the group.
    const consumers = (await t.redis.sendCommand([
      'XINFO',
      'CONSUMERS',
      'sluice:queue:{early}',
      'default',
    ])) as unknown[];
    expect(consumers).toEqual([]);
  });
});
