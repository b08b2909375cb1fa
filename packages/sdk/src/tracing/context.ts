// The async context of tracing, for the edges only: a pipeline started inside an `op` (or code an
// op awaits) finds the op's call here. Inside pipelines the run tree carries the current call.

import { AsyncLocalStorage } from 'node:async_hooks';
import type { LiveCall } from './live-call.ts';

export const callStorage = new AsyncLocalStorage<LiveCall>();

/**
 * The call of the synchronous function running now (a plain, non-async part function of a traced
 * processor): set around the call only, far cheaper than entering the async context.
 */
export const syncCall: { current: LiveCall | undefined } = { current: undefined };

/** The call open here: the running synchronous function's, else the async context's. */
export function activeCall(): LiveCall | undefined {
  return syncCall.current ?? callStorage.getStore();
}
