// `Client`: the registry's resources (vectors, memories, chains, marketplace,
// wmatrix) over one transport, closed together by `close()`.

import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Dispatcher } from '@sluice/processors';
import { ClosedError, ConfigError, MissingAPIKeyError } from '../errors.ts';
import type { Environment } from '../providers.ts';
import { CLIENT_DEFAULTS, RegistryTransport } from './http.ts';
import { type Marketplace, marketplace } from './marketplace.ts';
import { type ChainPackage, ChainPackageSchema, type MemoryPackage, MemoryPackageSchema } from './schemas.ts';
import { type SearchOptions, type SearchParams, type SearchResults, searchResults } from './search.ts';
import { type Vectors, vectors } from './vectors.ts';
import { type WMatrix, wmatrix } from './wmatrix.ts';

/** Options of `new Client()`; every one has a default. */
export interface ClientOptions {
  /**
   * The registry's base URL including the API version, e.g.
   * 'https://registry.example.com/v1'; a URL without a path gets '/v1'.
   * Default: SLUICE_REGISTRY_URL.
   */
  baseURL?: string;
  /** Bearer token. Default: SLUICE_API_KEY. */
  apiKey?: string;
  /** Retries of transient failures after the first attempt; default 2. */
  maxRetries?: number;
  /** Limit of one attempt of one request (connect to end of body), in ms; default 60 000. Downloads use the `download` processor's stall timeout instead. */
  timeoutMs?: number;
  /** Where `streamAlign` keeps downloaded packages. Default: SLUICE_CACHE_DIR, else `$XDG_CACHE_HOME/sluice/packages` or `~/.cache/sluice/packages`. */
  cacheDir?: string;
  /** An undici dispatcher instead of the shared keep-alive pool (a proxy, a mock agent). */
  dispatcher?: Dispatcher;
  /** Where environment variables are read; default `process.env`. */
  env?: Environment;
}

/** The `memories` resource. */
export interface Memories {
  /** Memory packages (each with `tokenCount`) matching `params.query`, every page. */
  search(params: SearchParams, options?: SearchOptions): SearchResults<MemoryPackage>;
}

/** The `chains` resource. */
export interface Chains {
  /** Chain packages matching `params.query`, every page. */
  search(params: SearchParams, options?: SearchOptions): SearchResults<ChainPackage>;
}

function defaultCacheDir(env: Environment): string {
  if (env.SLUICE_CACHE_DIR) return env.SLUICE_CACHE_DIR;
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'sluice', 'packages');
}

function normalizeBaseURL(baseURL: string): string {
  let url: URL;
  try {
    url = new URL(baseURL);
  } catch {
    throw new ConfigError(`new Client(): baseURL ${JSON.stringify(baseURL)} is not an absolute URL`);
  }
  const path = url.pathname.replace(/\/+$/, '');
  return `${url.origin}${path === '' ? '/v1' : path}`;
}

/**
 * A client of the package registry (its HTTP API is in the sdk README). Every
 * request carries the bearer key, is bounded by `timeoutMs`, and is retried on
 * transient failures (`maxRetries`); failures are the typed errors of
 * `@sluice/processors` (`AuthenticationError`, `NotFoundError`, ...).
 * `close()` (or `await using`) stops every call in flight.
 */
export class Client implements AsyncDisposable {
  /** The normalized base URL, e.g. 'http://127.0.0.1:41234/v1'. */
  readonly baseURL: string;
  readonly cacheDir: string;
  readonly vectors: Vectors;
  readonly memories: Memories;
  readonly chains: Chains;
  readonly marketplace: Marketplace;
  readonly wmatrix: WMatrix;
  readonly #closer = new AbortController();

  constructor(options: ClientOptions = {}) {
    const env = options.env ?? process.env;
    const baseURL = options.baseURL ?? env.SLUICE_REGISTRY_URL;
    if (!baseURL) {
      throw new ConfigError(
        'new Client(): no registry URL: the SLUICE_REGISTRY_URL environment variable is not set',
        "set SLUICE_REGISTRY_URL or pass { baseURL }, e.g. the url of startRegistryServer() from '@sluice/sdk/testing'",
      );
    }
    const apiKey = options.apiKey ?? env.SLUICE_API_KEY;
    if (!apiKey) throw new MissingAPIKeyError('new Client()', ['SLUICE_API_KEY']);
    const maxRetries = options.maxRetries ?? CLIENT_DEFAULTS.maxRetries;
    if (!Number.isSafeInteger(maxRetries) || maxRetries < 0) {
      throw new RangeError(`new Client(): maxRetries must be an integer >= 0, got ${String(options.maxRetries)}`);
    }
    const timeoutMs = options.timeoutMs ?? CLIENT_DEFAULTS.timeoutMs;
    if (!(timeoutMs > 0) || !Number.isFinite(timeoutMs)) {
      throw new RangeError(`new Client(): timeoutMs must be a positive number, got ${String(options.timeoutMs)}`);
    }
    this.baseURL = normalizeBaseURL(baseURL);
    this.cacheDir = options.cacheDir ?? defaultCacheDir(env);
    const transport = new RegistryTransport({
      baseURL: this.baseURL,
      apiKey,
      maxRetries,
      timeoutMs,
      dispatcher: options.dispatcher,
    });
    const closer = this.#closer.signal;
    this.marketplace = marketplace(transport, closer);
    this.vectors = vectors(this, transport, closer);
    this.memories = {
      search: (params, searchOptions = {}) => {
        closer.throwIfAborted();
        return searchResults(transport, '/memories', MemoryPackageSchema, params, { ...searchOptions, closer });
      },
    };
    this.chains = {
      search: (params, searchOptions = {}) => {
        closer.throwIfAborted();
        return searchResults(transport, '/chains', ChainPackageSchema, params, { ...searchOptions, closer });
      },
    };
    this.wmatrix = wmatrix(this, closer);
  }

  /** True once `close()` was called. */
  get closed(): boolean {
    return this.#closer.signal.aborted;
  }

  /** Stops every call in flight (they reject with `ClosedError`, partial files are deleted) and refuses new ones. Idempotent. */
  async close(): Promise<void> {
    if (!this.closed) this.#closer.abort(new ClosedError('the Client', 'new Client()'));
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
