import { describe, expect, it } from 'vitest';
import { statusError } from '../../processors/src/http/transport.ts';
import { registryHint } from '../src/client/http.ts';
import {
  APIConnectionError,
  APITimeoutError,
  AuthenticationError,
  Client,
  ClosedError,
  ConfigError,
  MissingAPIKeyError,
} from '../src/index.ts';
import { clientOf, registry } from './helpers.ts';

describe('registry authentication', () => {
  it('a wrong key is AuthenticationError with a hint, and is not retried', async () => {
    const server = await registry();
    const client = await clientOf(server, { apiKey: 'wrong-key' });
    const error = await client.vectors
      .search({ query: '' })
      .firstPage()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthenticationError);
    const auth = error as AuthenticationError;
    expect(auth.status).toBe(401);
    expect(auth.provider).toBe('registry');
    expect(auth.code).toBe('E_AUTH');
    expect(auth.providerCode).toBe('invalid_api_key');
    expect(auth.requestId).toBe('req_0');
    expect(auth.hint).toMatch(/SLUICE_API_KEY/);
    expect(auth.message).not.toContain('wrong-key');
    expect(server.requests).toHaveLength(1);
    await expect(client.marketplace.purchase({ packageId: 'vec-code' })).rejects.toBeInstanceOf(AuthenticationError);
    expect(server.purchases).toHaveLength(0);
  });

  it('an error body echoing the key is redacted', () => {
    const body = JSON.stringify({
      error: { type: 'authentication_error', code: 'invalid_api_key', message: 'bad key sk-secret-1' },
    });
    const request = {
      url: 'http://127.0.0.1:1/v1/vectors',
      provider: 'registry',
      hints: registryHint,
      secrets: ['sk-secret-1'],
    };
    const error = statusError(request, 401, {}, body);
    expect(error).toBeInstanceOf(AuthenticationError);
    expect(error.message).toContain('bad key [redacted]');
    expect(JSON.stringify(error.body)).not.toContain('sk-secret-1');
  });

  it('every API request carries the bearer key', async () => {
    const server = await registry();
    const client = await clientOf(server);
    const receipt = await client.marketplace.purchase({ packageId: 'vec-code' });
    await client.vectors.download(receipt.downloadToken);
    await client.marketplace.getPackage('vec-code');
    expect(server.requests.map((r) => r.headers.authorization)).toEqual(Array(3).fill(`Bearer ${server.apiKey}`));
  });

  it('the key and the URL come from SLUICE_API_KEY and SLUICE_REGISTRY_URL', async () => {
    const server = await registry();
    const client = new Client({ env: { SLUICE_API_KEY: server.apiKey, SLUICE_REGISTRY_URL: server.url } });
    try {
      expect(client.baseURL).toBe(server.baseURL);
      expect((await client.marketplace.getPackage('vec-code')).id).toBe('vec-code');
    } finally {
      await client.close();
    }
  });

  it('a missing key or URL fails at construction, naming the variable', () => {
    expect(() => new Client({ baseURL: 'http://127.0.0.1:9', env: {} })).toThrow(MissingAPIKeyError);
    expect(() => new Client({ baseURL: 'http://127.0.0.1:9', env: {} })).toThrow(/SLUICE_API_KEY/);
    expect(() => new Client({ apiKey: 'k', env: {} })).toThrow(ConfigError);
    expect(() => new Client({ apiKey: 'k', env: {} })).toThrow(/SLUICE_REGISTRY_URL/);
    expect(() => new Client({ apiKey: 'k', baseURL: 'x', env: {} })).toThrow(/not an absolute URL/);
    expect(() => new Client({ apiKey: 'k', baseURL: 'http://h', maxRetries: -1, env: {} })).toThrow(RangeError);
  });
});

describe('registry transport', () => {
  it('retries transient failures of GETs, honouring retry-after-ms', async () => {
    const server = await registry({
      fail: { route: 'search', status: 503, times: 2, headers: { 'retry-after-ms': '0' } },
    });
    const client = await clientOf(server);
    const page = await client.vectors.search({ query: '' }).firstPage();
    expect(page.data.length).toBeGreaterThan(0);
    expect(server.requests.map((r) => r.status)).toEqual([503, 503, 200]);
  });

  it('a request that gets no answer within timeoutMs is APITimeoutError', async () => {
    const server = await registry({ fail: { route: 'package', stallAfter: 0 } });
    const client = await clientOf(server, { timeoutMs: 100, maxRetries: 0 });
    const error = await client.marketplace.getPackage('vec-code').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(APITimeoutError);
    expect((error as Error).message).toMatch(/timed out after 100 ms .*\(timeoutMs\)/);
  });

  it('a refused connection is APIConnectionError', async () => {
    const server = await registry();
    const client = await clientOf(server, { maxRetries: 0 });
    await server.close();
    await expect(client.marketplace.getPackage('vec-code')).rejects.toBeInstanceOf(APIConnectionError);
  });

  it('close() stops requests in flight with ClosedError and refuses new ones; await using closes', async () => {
    const server = await registry({ fail: { route: 'package', stallAfter: 0 } });
    const client = await clientOf(server);
    const pending = client.marketplace.getPackage('vec-code');
    await expect.poll(() => server.requests.length).toBe(1);
    await client.close();
    await expect(pending).rejects.toBeInstanceOf(ClosedError);
    await expect(client.marketplace.getPackage('vec-code')).rejects.toBeInstanceOf(ClosedError);
    expect(() => client.vectors.search({ query: '' })).toThrow(ClosedError);
    let outside: Client;
    {
      await using scoped = new Client({ baseURL: server.url, apiKey: server.apiKey, env: {} });
      outside = scoped;
    }
    expect(outside.closed).toBe(true);
  });
});
