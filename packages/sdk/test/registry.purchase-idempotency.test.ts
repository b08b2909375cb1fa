import { describe, expect, it } from 'vitest';
import { APIConnectionError, InternalServerError, NotFoundError, UnprocessableEntityError } from '../src/index.ts';
import { clientOf, registry } from './helpers.ts';

describe('marketplace.purchase', () => {
  it('returns a receipt with a download token, and sends an Idempotency-Key', async () => {
    const server = await registry();
    const client = await clientOf(server);
    const receipt = await client.marketplace.purchase({ packageId: 'vec-concise' });
    expect(receipt).toMatchObject({
      receiptId: expect.stringMatching(/^rcpt_/),
      packageId: 'vec-concise',
      downloadToken: expect.stringMatching(/^dl_/),
      price: 4.99,
      currency: 'USD',
    });
    expect(receipt.download).toMatchObject({ filename: 'vec-concise.safetensors', packageId: 'vec-concise' });
    expect(server.purchases).toHaveLength(1);
    expect(server.requests[0].headers['idempotency-key']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('a purchase whose answer was lost is retried with the same key and buys once', async () => {
    const server = await registry({ fail: { route: 'purchase', afterCommit: true, dropAfter: 0 } });
    const client = await clientOf(server);
    const receipt = await client.marketplace.purchase({ packageId: 'vec-pirate' });
    expect(server.purchases).toHaveLength(1);
    expect(receipt.receiptId).toBe(server.purchases[0].receiptId);
    const attempts = server.requests.filter((r) => r.route === 'purchase');
    expect(attempts).toHaveLength(2);
    expect(attempts[1].headers['idempotency-key']).toBe(attempts[0].headers['idempotency-key']);
  });

  it('a purchase answered 503 after it was committed is retried and buys once', async () => {
    const server = await registry({
      fail: { route: 'purchase', afterCommit: true, status: 503, headers: { 'retry-after-ms': '0' } },
    });
    const client = await clientOf(server);
    const receipt = await client.marketplace.purchase({ packageId: 'vec-pirate' });
    expect(server.purchases.map((p) => p.receiptId)).toEqual([receipt.receiptId]);
  });

  it('the caller can retry with its own key after the client gave up, and still buys once', async () => {
    const server = await registry({ fail: { route: 'purchase', afterCommit: true, dropAfter: 0 } });
    const client = await clientOf(server, { maxRetries: 0 });
    const idempotencyKey = 'order-42';
    await expect(client.marketplace.purchase({ packageId: 'vec-code', idempotencyKey })).rejects.toBeInstanceOf(
      APIConnectionError,
    );
    const receipt = await client.marketplace.purchase({ packageId: 'vec-code', idempotencyKey });
    expect(server.purchases).toHaveLength(1);
    expect(receipt).toEqual(server.purchases[0]);
  });

  it('two purchases with different keys are two purchases', async () => {
    const server = await registry();
    const client = await clientOf(server);
    const a = await client.marketplace.purchase({ packageId: 'vec-code' });
    const b = await client.marketplace.purchase({ packageId: 'vec-code' });
    expect(a.receiptId).not.toBe(b.receiptId);
    expect(server.purchases).toHaveLength(2);
  });

  it('reusing a key for another package is refused with UnprocessableEntityError', async () => {
    const server = await registry();
    const client = await clientOf(server);
    await client.marketplace.purchase({ packageId: 'vec-code', idempotencyKey: 'k1' });
    const error = await client.marketplace.purchase({ packageId: 'vec-pirate', idempotencyKey: 'k1' }).catch((e) => e);
    expect(error).toBeInstanceOf(UnprocessableEntityError);
    expect(error.providerCode).toBe('idempotency_key_reused');
    expect(server.purchases).toHaveLength(1);
  });

  it('an unknown package is NotFoundError and is not retried', async () => {
    const server = await registry();
    const client = await clientOf(server);
    const error = await client.marketplace.purchase({ packageId: 'nope' }).catch((e) => e);
    expect(error).toBeInstanceOf(NotFoundError);
    expect(error.status).toBe(404);
    expect(error.message).toContain('package_not_found');
    expect(server.requests).toHaveLength(1);
  });

  it('gives up after maxRetries transient failures with the last typed error', async () => {
    const server = await registry({
      fail: { route: 'purchase', status: 500, times: 3, headers: { 'retry-after-ms': '0' } },
    });
    const client = await clientOf(server, { maxRetries: 2 });
    await expect(client.marketplace.purchase({ packageId: 'vec-code' })).rejects.toBeInstanceOf(InternalServerError);
    expect(server.requests).toHaveLength(3);
    expect(server.purchases).toHaveLength(0);
  });
});
