import { take } from '@reactivex/ix-esnext-esm/asynciterable/operators/take';
import { toArray } from '@reactivex/ix-esnext-esm/asynciterable/toarray';
import { describe, expect, it } from 'vitest';
import { BadRequestError } from '../src/index.ts';
import { clientOf, registry } from './helpers.ts';

describe('registry search with cursor pagination', () => {
  it('iterates every item of every page, in rating order, one request per page', async () => {
    const server = await registry();
    const client = await clientOf(server);
    const expected = server.packages
      .filter((p) => p.kind === 'vector')
      .sort((a, b) => b.rating - a.rating || a.id.localeCompare(b.id))
      .map((p) => p.id);
    const seen: string[] = [];
    for await (const item of client.vectors.search({ query: '', limit: 3 })) seen.push(item.id);
    expect(seen).toEqual(expected);
    const searches = server.requests.filter((r) => r.route === 'search');
    expect(searches).toHaveLength(Math.ceil(expected.length / 3));
    expect(searches.every((r) => r.headers.authorization === `Bearer ${server.apiKey}`)).toBe(true);
  });

  it('items carry id, name, rating, price and model', async () => {
    const server = await registry();
    const client = await clientOf(server);
    const page = await client.vectors.search({ query: 'pirate' }).firstPage();
    expect(page.data).toHaveLength(1);
    expect(page.data[0]).toMatchObject({
      id: 'vec-pirate',
      kind: 'vector',
      name: 'Pirate voice',
      rating: 4.6,
      price: 2.99,
      model: server.baseModelName,
      format: 'lora',
    });
    expect(page.hasNextPage()).toBe(false);
    await expect(page.getNextPage()).rejects.toThrow(RangeError);
  });

  it('firstPage() fetches one page; getNextPage() follows the cursor', async () => {
    const server = await registry();
    const client = await clientOf(server);
    const first = await client.vectors.search({ query: 'style', limit: 2 }).firstPage();
    expect(first.data).toHaveLength(2);
    expect(first.hasNextPage()).toBe(true);
    expect(server.requests).toHaveLength(1);
    const second = await first.getNextPage();
    expect(second.data.map((p) => p.id)).not.toContain(first.data[0].id);
    expect(server.requests[1].path).toContain(`cursor=${encodeURIComponent(first.nextCursor!)}`);
  });

  it('stopping early fetches no further page', async () => {
    const server = await registry();
    const client = await clientOf(server);
    const taken: string[] = [];
    for await (const item of client.vectors.search({ query: '', limit: 2 })) {
      taken.push(item.id);
      if (taken.length === 2) break;
    }
    expect(server.requests).toHaveLength(1);
    // ix operators chain on the results.
    const three = await toArray(client.vectors.search({ query: '', limit: 2 }).pipe(take(3)));
    expect(three).toHaveLength(3);
    expect(server.requests).toHaveLength(3);
  });

  it('take(n) and toArray() are methods: take stops after n items and fetches no page past them', async () => {
    const server = await registry();
    const client = await clientOf(server);
    const all = server.packages.filter((p) => p.kind === 'vector').length;
    expect(all).toBeGreaterThan(3);
    const three = await client.vectors.search({ query: '', limit: 2 }).take(3).toArray();
    expect(three).toHaveLength(3);
    // Pages of 2: the third item is on page 2, so exactly two requests.
    expect(server.requests.filter((r) => r.route === 'search')).toHaveLength(2);
    const everything = await client.vectors.search({ query: '', limit: 2 }).toArray();
    expect(everything).toHaveLength(all);
    expect(everything.slice(0, 3)).toEqual(three);
    const before = server.requests.length;
    expect(await client.vectors.search({ query: '' }).take(0).toArray()).toEqual([]);
    expect(server.requests).toHaveLength(before);
    // limit is the page size, never a cap on the total.
    expect(await client.vectors.search({ query: '', limit: 1 }).toArray()).toHaveLength(all);
    expect(() => client.vectors.search({ query: '' }).take(-1)).toThrow(RangeError);
  });

  it('filters by every query word and by model', async () => {
    const server = await registry();
    const client = await clientOf(server);
    const tone = await toArray(client.vectors.search({ query: 'TONE style' }));
    expect(tone.map((p) => p.id).sort()).toEqual(['vec-cheerful', 'vec-formal']);
    const llama = await toArray(client.vectors.search({ query: '', model: 'llama-3.2-1b' }));
    expect(llama.map((p) => p.id)).toEqual(['vec-llama-style']);
    expect(await toArray(client.vectors.search({ query: 'no such thing' }))).toEqual([]);
  });

  it('memories carry tokenCount; chains carry steps', async () => {
    const server = await registry();
    const client = await clientOf(server);
    const memories = await toArray(client.memories.search({ query: '' }));
    expect(memories.map((m) => m.id)).toEqual(['mem-sluice-docs', 'mem-safetensors', 'mem-pirate-lore']);
    for (const memory of memories) {
      expect(memory.kind).toBe('memory');
      expect(memory.tokenCount).toBeGreaterThan(0);
    }
    const chains = await toArray(client.chains.search({ query: 'translate' }));
    expect(chains).toEqual([expect.objectContaining({ id: 'chain-summarize', kind: 'chain', steps: 3 })]);
  });

  it('refuses a bad limit before sending anything, and the server refuses a foreign cursor', async () => {
    const server = await registry();
    const client = await clientOf(server);
    expect(() => client.vectors.search({ query: '', limit: 0 })).toThrow(RangeError);
    expect(() => client.vectors.search({ query: '', limit: 101 })).toThrow(RangeError);
    expect(server.requests).toHaveLength(0);
    const first = await client.vectors.search({ query: '', limit: 1 }).firstPage();
    const response = await fetch(`${server.baseURL}/memories?query=&limit=1&cursor=${first.nextCursor}`, {
      headers: { authorization: `Bearer ${server.apiKey}` },
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: { code: 'invalid_cursor' } });
  });

  it('a 400 answer becomes BadRequestError naming the registry code', async () => {
    const server = await registry({ fail: { route: 'search', status: 400 } });
    const client = await clientOf(server);
    const error = await client.vectors
      .search({ query: '' })
      .firstPage()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BadRequestError);
    expect((error as BadRequestError).providerCode).toBe('injected_fault');
    expect(server.requests).toHaveLength(1);
  });

  it('a search aborted by its signal rejects with the reason', async () => {
    const server = await registry({ fail: { route: 'search', stallAfter: 0 } });
    const client = await clientOf(server);
    const controller = new AbortController();
    const reason = new Error('enough');
    const pending = client.vectors.search({ query: '' }, { signal: controller.signal }).firstPage();
    await expect.poll(() => server.requests.length).toBe(1);
    controller.abort(reason);
    await expect(pending).rejects.toBe(reason);
  });
});
