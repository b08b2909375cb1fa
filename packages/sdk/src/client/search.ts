// Search with cursor pagination: `search()` returns an async iterable over
// every item of every page (pages fetched one at a time, as the consumer
// reads), `firstPage()` for one page, `pages()` for page-by-page control.

import { AsyncIterableX } from '@reactivex/ix-esnext-esm/Ix.asynciterable';
import type { z } from 'zod';
import type { RegistryTransport } from './http.ts';
import { pageSchema } from './schemas.ts';

/** Parameters of `vectors.search`, `memories.search` and `chains.search`. */
export interface SearchParams {
  /** Words that must all appear in the name, description, tags or id (case-insensitive); '' matches everything. */
  query: string;
  /** Only packages made for this base model. */
  model?: string;
  /**
   * The page size, 1 to 100; default 20. It is not a cap on the results: iteration goes on
   * through every page. To stop after N items, use `.take(N)` (no page past the Nth item is fetched).
   */
  limit?: number;
}

/** Options of one search. */
export interface SearchOptions {
  /** Aborting stops the iteration (the request in flight is cancelled); it rejects with `signal.reason`. */
  signal?: AbortSignal;
}

/** One page of results. */
export interface Page<T> {
  readonly data: readonly T[];
  /** Opaque; null on the last page. */
  readonly nextCursor: string | null;
  hasNextPage(): boolean;
  /** The next page; rejects with a RangeError on the last page. */
  getNextPage(): Promise<Page<T>>;
}

/**
 * The results of a search: `for await (const item of results)` walks every
 * item of every page in the registry's order (rating, then id), fetching the
 * next page only when the current one is consumed; stopping early fetches no
 * more. Each iteration starts again from the first page. `take(n)` and
 * `toArray()` are methods; every other ix operator chains with `pipe`.
 */
export class SearchResults<T> extends AsyncIterableX<T> {
  readonly #fetch: (cursor: string | undefined) => Promise<Page<T>>;
  readonly #max: number;

  /** `max` caps the items iterated (default: every item of every page). */
  constructor(fetch: (cursor: string | undefined) => Promise<Page<T>>, max = Number.POSITIVE_INFINITY) {
    super();
    this.#fetch = fetch;
    this.#max = max;
  }

  /**
   * At most the first `count` items (an integer >= 0): iteration stops there and fetches no
   * further page. Still a `SearchResults` (`firstPage()` and `pages()` are unchanged).
   */
  take(count: number): SearchResults<T> {
    if (!Number.isInteger(count) || count < 0) {
      throw new RangeError(`search: take(count) needs an integer >= 0, got ${String(count)}`);
    }
    return new SearchResults(this.#fetch, Math.min(count, this.#max));
  }

  /** Every item iterated (all pages, or up to `take`'s count), in order, as one array. */
  async toArray(): Promise<T[]> {
    const out: T[] = [];
    for await (const item of this) out.push(item);
    return out;
  }

  /** The first page only. */
  firstPage(): Promise<Page<T>> {
    return this.#fetch(undefined);
  }

  /** Every page, in order, each fetched when the previous one has been consumed. */
  async *pages(): AsyncGenerator<Page<T>, void, undefined> {
    let page = await this.#fetch(undefined);
    yield page;
    while (page.hasNextPage()) {
      page = await page.getNextPage();
      yield page;
    }
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T, void, undefined> {
    let left = this.#max;
    if (left <= 0) return;
    for await (const page of this.pages()) {
      for (const item of page.data) {
        yield item;
        if (--left <= 0) return;
      }
    }
  }
}

/** A `SearchResults` over `GET <path>?query&model&limit&cursor`, items validated by `item`. */
export function searchResults<S extends z.ZodType>(
  transport: RegistryTransport,
  path: string,
  item: S,
  params: SearchParams,
  options: SearchOptions & { closer: AbortSignal },
): SearchResults<z.infer<S>> {
  if (typeof params?.query !== 'string') {
    throw new TypeError(`search: the query parameter must be a string ('' matches everything)`);
  }
  if (params.limit !== undefined && (!Number.isInteger(params.limit) || params.limit < 1 || params.limit > 100)) {
    throw new RangeError(`search: limit must be an integer from 1 to 100, got ${String(params.limit)}`);
  }
  const schema = pageSchema(item);
  const fetch = async (cursor: string | undefined): Promise<Page<z.infer<S>>> => {
    const signal = options.signal ? AbortSignal.any([options.closer, options.signal]) : options.closer;
    const body = await transport.json(schema, {
      method: 'GET',
      path,
      query: { query: params.query, model: params.model, limit: params.limit, cursor },
      signal,
    });
    const next = body.nextCursor;
    return {
      data: body.data as z.infer<S>[],
      nextCursor: next,
      hasNextPage: () => next !== null,
      getNextPage: () => {
        if (next === null) return Promise.reject(new RangeError('search: this is the last page'));
        return fetch(next);
      },
    };
  };
  return new SearchResults(fetch);
}
