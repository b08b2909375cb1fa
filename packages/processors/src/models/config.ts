// A processor's configuration, attached under a well-known symbol so that
// `cache()` can key on what a processor is, not only on its name. Secrets
// (API keys, headers) and live objects (dispatchers, functions) are left out.

import type { Processor } from '@sluice/core';

/** The symbol under which processors expose their cache-relevant configuration. */
export const PROCESSOR_CONFIG: unique symbol = Symbol.for('sluice.processorConfig') as never;

/**
 * Attaches `config` (frozen, non-enumerable) to `p` and returns `p`, so that
 * `cache()` keys on it. Use it on your own processors to make them cacheable.
 */
export function withConfig<P extends Processor>(p: P, config: Record<string, unknown>): P {
  Object.defineProperty(p, PROCESSOR_CONFIG, { value: Object.freeze(config) });
  return p;
}

/**
 * The configuration a processor exposes for cache keys (model processors:
 * everything but the API key, headers and dispatcher), or undefined. Pure.
 */
export function configOf(p: Processor): Readonly<Record<string, unknown>> | undefined {
  return (p as unknown as Record<symbol, Readonly<Record<string, unknown>> | undefined>)[PROCESSOR_CONFIG];
}
