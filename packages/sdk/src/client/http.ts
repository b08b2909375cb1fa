// The registry's JSON transport: the processors' `requestJSON` (one HTTP layer for models, the
// registry and downloads) with the registry's base URL, bearer auth, Idempotency-Key and hints,
// so the registry fails exactly like a model does (`AuthenticationError`, `NotFoundError`, ...).

import { type Dispatcher, HTTP_DEFAULTS, requestJSON } from '@sluice/processors';
import type { z } from 'zod';

/** Defaults of the client's transport (views of the processors' HTTP_DEFAULTS). */
export const CLIENT_DEFAULTS = {
  /** Retries after the first attempt (GETs, and POSTs that carry an Idempotency-Key). */
  maxRetries: HTTP_DEFAULTS.maxRetries,
  /** Limit of one attempt, from sending the request to the end of the response body. */
  timeoutMs: HTTP_DEFAULTS.timeoutMs,
} as const;

/** How the transport reaches the registry. */
export interface TransportConfig {
  /** Base URL including the API version, e.g. 'http://127.0.0.1:8080/v1'. */
  readonly baseURL: string;
  readonly apiKey: string;
  readonly maxRetries: number;
  readonly timeoutMs: number;
  /** An undici dispatcher instead of the processors' shared pool (a proxy, a mock agent). */
  readonly dispatcher?: Dispatcher;
}

/** One call to the registry. */
export interface Call {
  readonly method: 'GET' | 'POST';
  /** Path below the base URL, e.g. '/vectors'. */
  readonly path: string;
  readonly query?: Readonly<Record<string, string | number | undefined>>;
  readonly body?: unknown;
  /** Sent as Idempotency-Key; a POST is retried only when it has one. */
  readonly idempotencyKey?: string;
  readonly signal?: AbortSignal;
}

const hints: Record<number, string> = {
  400: 'the registry refused the request; check the parameters (limit 1..100, a cursor from the same search)',
  401: 'check the API key: pass apiKey to new Client() or set SLUICE_API_KEY',
  403: 'the API key may not do this; check its permissions',
  404: 'check the package id or download token (ids come from search results, tokens from marketplace.purchase)',
  409: 'the same Idempotency-Key is being processed; it was retried',
  410: 'the download token expired; purchase again (with the same Idempotency-Key to get the same receipt)',
  422: 'an Idempotency-Key was reused with a different request; use a new key for a new purchase',
  429: 'rate limited (retried with backoff up to maxRetries times): raise maxRetries or slow down',
};

/** The registry's hint for a failed status. */
export function registryHint(status: number): string | undefined {
  return (
    hints[status] ?? (status >= 500 ? 'the registry failed; it was retried, raise maxRetries or try later' : undefined)
  );
}

/**
 * The registry's JSON transport: bearer auth, one attempt bounded by `timeoutMs`, transient
 * failures retried up to `maxRetries` times for GETs and for POSTs that carry an Idempotency-Key
 * (so a retry never repeats a side effect). Aborting the call's signal cancels the socket and
 * rejects with `signal.reason`.
 */
export class RegistryTransport {
  readonly config: TransportConfig;

  constructor(config: TransportConfig) {
    this.config = config;
  }

  /** The absolute URL of `path` (below the base URL) with `query`. */
  url(path: string, query: Call['query'] = {}): string {
    const url = new URL(`${this.config.baseURL.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`);
    for (const [key, value] of Object.entries(query)) if (value !== undefined) url.searchParams.set(key, String(value));
    return url.toString();
  }

  /** Sends `call`, retrying transient failures, and returns the response body validated by `schema`. */
  json<T>(schema: z.ZodType<T>, call: Call): Promise<T> {
    const headers: Record<string, string> = {
      authorization: `Bearer ${this.config.apiKey}`,
      'user-agent': 'sluice-sdk/0.1',
    };
    if (call.idempotencyKey !== undefined) headers['idempotency-key'] = call.idempotencyKey;
    return requestJSON(
      {
        url: this.url(call.path, call.query),
        method: call.method,
        headers,
        body: call.body,
        provider: 'registry',
        label: `${call.method} ${call.path}`,
        hints: registryHint,
        idempotent: call.idempotencyKey !== undefined,
        secrets: [this.config.apiKey],
        responseHint: 'the server does not speak the registry API of this sdk version; check the baseURL',
      },
      schema,
      {
        maxRetries: this.config.maxRetries,
        timeoutMs: this.config.timeoutMs,
        dispatcher: this.config.dispatcher,
        signal: call.signal,
      },
    );
  }
}
