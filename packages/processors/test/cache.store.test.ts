// cache(): hits replay without running the processor; keys cover the
// configuration and the input; failures, exception parts, stopped runs and
// empty outputs are not stored; the LRU store evicts and expires.

import { catchErrors, type Part, processor, textPart } from '@sluice/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type CacheStore, cache, memoryStore } from '../src/flow/cache.ts';
import { fakeModel } from '../src/models/fake.ts';
import { openai } from '../src/models/openai.ts';

afterEach(() => {
  vi.useRealTimers();
});

function counted(reply: string | ((input: Part[]) => string)) {
  let runs = 0;
  const model = fakeModel({
    reply: (input) => {
      runs++;
      return typeof reply === 'function' ? reply(input) : reply;
    },
  });
  return { model, runs: () => runs };
}

const content = (parts: Part[]) => parts.filter((p) => p.substream === '').map((p) => p.text);

describe('cache', () => {
  it('replays a hit without running the processor, ending with a cache-hit status part', async () => {
    const { model, runs } = counted('cached answer');
    const cached = cache(model);
    const first = await cached('q').gather();
    const second = await cached('q').gather();
    expect(runs()).toBe(1);
    expect(content(second)).toEqual(content(first));
    expect(content(second)).toEqual(['cached', ' answer']);
    expect(second.at(-1)!.metadata.cache).toBe('hit');
    expect(first.some((p) => p.metadata.cache === 'hit')).toBe(false);
  });

  it('misses for another input', async () => {
    const { model, runs } = counted((input) => `echo ${input[0].text}`);
    const cached = cache(model);
    expect(await cached('a').text()).toBe('echo a');
    expect(await cached('b').text()).toBe('echo b');
    expect(await cached([textPart('a', { role: 'system' })]).text()).toBe('echo a');
    expect(runs()).toBe(3);
  });

  it('keys on the processor configuration, not only its name', async () => {
    const store = memoryStore();
    const a = openai({ model: 'model-a', baseURL: 'http://127.0.0.1:9/v1' });
    const b = openai({ model: 'model-a', baseURL: 'http://127.0.0.1:9/v1', temperature: 1, name: a.name });
    const { cacheKey } = await import('../src/flow/cache.ts');
    expect(a.name).toBe(b.name);
    expect(cacheKey(a, [textPart('q')])).not.toBe(cacheKey(b, [textPart('q')]));
    expect(cacheKey(a, [textPart('q')])).toBe(
      cacheKey(openai({ model: 'model-a', baseURL: 'http://127.0.0.1:9/v1' }), [textPart('q')]),
    );
    // The API key is not part of the configuration, so rotating it keeps the cache.
    expect(cacheKey(a, [textPart('q')])).toBe(
      cacheKey(openai({ model: 'model-a', baseURL: 'http://127.0.0.1:9/v1', apiKey: 'sk-other' }), [textPart('q')]),
    );
    expect(store.size).toBe(0);
  });

  it('does not store failures', async () => {
    let runs = 0;
    const failing = processor(async function* failsOnce() {
      runs++;
      yield textPart('partial');
      if (runs === 1) throw new Error('boom');
    });
    const cached = cache(failing);
    await expect(cached('q').gather()).rejects.toThrow('boom');
    expect(await cached('q').text()).toBe('partial');
    expect(runs).toBe(2);
    await cached('q').gather();
    expect(runs).toBe(2);
  });

  it('does not store outputs holding an exception part', async () => {
    let runs = 0;
    const failing = catchErrors(
      processor(async function* alwaysFails() {
        runs++;
        yield textPart('x');
        throw new Error('boom');
      }),
    );
    const cached = cache(failing);
    await cached('q').gather();
    await cached('q').gather();
    expect(runs).toBe(2);
  });

  it('does not store empty outputs', async () => {
    let runs = 0;
    const empty = processor(async function* nothing(input) {
      runs++;
      for await (const p of input) if (p.text === 'never') yield p;
    });
    const cached = cache(empty);
    await cached('q').gather();
    await cached('q').gather();
    expect(runs).toBe(2);
  });

  it('does not store a run the consumer stopped early', async () => {
    const { model, runs } = counted('one two three');
    const cached = cache(model);
    for await (const _ of cached('q')) break;
    await cached('q').gather();
    expect(runs()).toBe(2);
  });

  it('works with any async store (the interface for Redis and friends)', async () => {
    const data = new Map<string, string>();
    const store: CacheStore = {
      async get(key) {
        const value = data.get(key);
        return value === undefined ? undefined : JSON.parse(value);
      },
      async set(key, parts) {
        data.set(key, JSON.stringify(parts));
      },
    };
    const { model, runs } = counted('stored');
    expect(await cache(model, { store })('q').text()).toBe('stored');
    expect(await cache(model, { store })('q').text()).toBe('stored');
    expect(runs()).toBe(1);
    expect(data.size).toBe(1);
  });

  it('separates processors by namespace and accepts a custom key', async () => {
    const store = memoryStore();
    const { model, runs } = counted('x');
    await cache(model, { store, namespace: 'a' })('q').gather();
    await cache(model, { store, namespace: 'b' })('q').gather();
    expect(runs()).toBe(2);
    const byLength = cache(model, { store, key: (input) => String(input[0].text?.length) });
    await byLength('aa').gather();
    await byLength('bb').gather();
    expect(runs()).toBe(3);
  });
});

describe('memoryStore', () => {
  it('evicts the least recently used entry beyond maxEntries', () => {
    const store = memoryStore({ maxEntries: 2 });
    store.set('a', [{ mimetype: 'text/plain', text: 'a' }]);
    store.set('b', [{ mimetype: 'text/plain', text: 'b' }]);
    store.get('a');
    store.set('c', [{ mimetype: 'text/plain', text: 'c' }]);
    expect(store.get('b')).toBeUndefined();
    expect(store.get('a')).toBeDefined();
    expect(store.get('c')).toBeDefined();
    expect(store.size).toBe(2);
  });

  it('expires entries after ttlMs', () => {
    vi.useFakeTimers();
    const store = memoryStore({ ttlMs: 1000 });
    store.set('a', [{ mimetype: 'text/plain', text: 'a' }]);
    vi.advanceTimersByTime(999);
    expect(store.get('a')).toBeDefined();
    vi.advanceTimersByTime(1002);
    expect(store.get('a')).toBeUndefined();
  });
});
