import { describe, expect, it } from 'vitest';
import { Semaphore } from '../src/index.ts';

describe('Semaphore', () => {
  it('lets at most limit holders in, serving waiters first come, first served', async () => {
    const semaphore = new Semaphore(2);
    expect(semaphore.acquire()).toBeUndefined();
    expect(semaphore.acquire()).toBeUndefined();
    const order: number[] = [];
    const a = semaphore.acquire()!.then(() => order.push(1));
    const b = semaphore.acquire()!.then(() => order.push(2));
    expect(semaphore.waiting).toBe(2);
    expect(semaphore.tryAcquire()).toBe(false);
    semaphore.release();
    await a;
    semaphore.release();
    await b;
    expect(order).toEqual([1, 2]);
    expect(semaphore.active).toBe(2);
  });

  it('an aborted wait rejects with the reason, leaves the queue and takes no slot', async () => {
    const semaphore = new Semaphore(1);
    semaphore.tryAcquire();
    const controller = new AbortController();
    const reason = new Error('stop');
    const first = semaphore.acquire(controller.signal)!;
    const second = semaphore.acquire(controller.signal)!;
    const other = semaphore.acquire()!;
    controller.abort(reason);
    await expect(first).rejects.toBe(reason);
    await expect(second).rejects.toBe(reason);
    expect(semaphore.waiting).toBe(1);
    semaphore.release();
    await other;
    expect(semaphore.active).toBe(1);
    semaphore.release();
    expect(semaphore.active).toBe(0);
    await expect(semaphore.acquire(controller.signal)).rejects.toBe(reason);
  });

  it('run() gives the slot back when fn throws', async () => {
    const semaphore = new Semaphore(1);
    await expect(
      semaphore.run(() => {
        throw new Error('x');
      }),
    ).rejects.toThrow('x');
    expect(semaphore.active).toBe(0);
    expect(await semaphore.run(async () => 7)).toBe(7);
  });

  it('refuses a limit below 1', () => {
    expect(() => new Semaphore(0)).toThrow(RangeError);
  });
});
