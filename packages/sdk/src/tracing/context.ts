// The async context of tracing, for the edges only: a pipeline started inside an `op` (or code an
// op awaits) finds the op's call here. Inside pipelines the run tree carries the current call.

import { AsyncLocalStorage } from 'node:async_hooks';
import type { LiveCall } from './live-call.ts';

export const callStorage = new AsyncLocalStorage<LiveCall>();

/** The call open in the current async context. */
export function activeCall(): LiveCall | undefined {
  return callStorage.getStore();
}
