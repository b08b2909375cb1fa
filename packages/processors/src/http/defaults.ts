// Every default of the HTTP layer in one block, as undici's RetryHandler keeps its own: the model
// processors, the registry client and `download` all read them from here. The processors README
// has the same table with the reasons.

/** The named defaults of every HTTP request Sluice makes. */
export const HTTP_DEFAULTS = {
  /** Retries after the first attempt (models, the registry client, downloads). */
  maxRetries: 2,
  /** First backoff delay, before jitter; it doubles per retry. */
  initialRetryDelayMs: 500,
  /** Longest backoff delay. */
  maxRetryDelayMs: 8_000,
  /**
   * A server-requested wait (`Retry-After`) longer than this is ignored in favour of the backoff
   * (model and registry calls: a one-hour quota wait should fail fast through the backoff, not hang).
   */
  ignoreRetryAfterAboveMs: 60_000,
  /**
   * A download whose server asks to wait longer than this fails at once instead of waiting
   * (a download resumes where it was, so an honoured wait costs no bytes).
   */
  failRetryAfterAboveMs: 120_000,
  /** TCP (and TLS) connect. */
  connectTimeoutMs: 10_000,
  /** From sending the request to the response headers (a long prompt may take a while to start). */
  headersTimeoutMs: 120_000,
  /** Between two chunks of a streamed body: a stalled stream fails instead of hanging. */
  idleTimeoutMs: 60_000,
  /** One whole JSON request (headers and body), e.g. a registry call. */
  timeoutMs: 60_000,
  /** A download that receives no byte for this long is aborted and resumed with Range. */
  stallTimeoutMs: 30_000,
} as const;
