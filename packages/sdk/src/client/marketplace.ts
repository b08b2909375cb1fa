// Buying packages: `purchase` (one POST, made safe to retry by an
// Idempotency-Key) and `getPackage` (the public facts of one package).

import { randomUUID } from 'node:crypto';
import type { RegistryTransport } from './http.ts';
import { type AnyPackage, AnyPackageSchema, type Receipt, ReceiptSchema } from './schemas.ts';

/** Parameters of `marketplace.purchase`. */
export interface PurchaseParams {
  packageId: string;
  /**
   * Identifies this purchase: the same key always gives the same receipt, so
   * a purchase retried after a lost answer never buys twice. Default: a new
   * random key per call, reused by the client's own retries.
   */
  idempotencyKey?: string;
}

/** Options of one request. */
export interface RequestOptions {
  /** Aborting cancels the request; the call rejects with `signal.reason`. */
  signal?: AbortSignal;
}

/** The `marketplace` resource. */
export interface Marketplace {
  /**
   * Buys one package and returns its receipt with a download token. Retried
   * on transient failures with the same Idempotency-Key, so the registry
   * charges once. Rejects with `NotFoundError` for an unknown package.
   */
  purchase(params: PurchaseParams, options?: RequestOptions): Promise<Receipt>;
  /** The public facts of one package (name, price, file name, size, sha256); `NotFoundError` if unknown. */
  getPackage(packageId: string, options?: RequestOptions): Promise<AnyPackage>;
}

/** The signal of one call: the client's (aborted by `close()`) and the caller's. */
export function callSignal(closer: AbortSignal, signal: AbortSignal | undefined): AbortSignal {
  closer.throwIfAborted();
  return signal ? AbortSignal.any([closer, signal]) : closer;
}

export function marketplace(transport: RegistryTransport, closer: AbortSignal): Marketplace {
  return {
    async purchase(params, options = {}) {
      if (typeof params?.packageId !== 'string' || params.packageId === '') {
        throw new TypeError('marketplace.purchase: packageId must be a non-empty string');
      }
      return transport.json(ReceiptSchema, {
        method: 'POST',
        path: '/purchases',
        body: { packageId: params.packageId },
        idempotencyKey: params.idempotencyKey ?? randomUUID(),
        signal: callSignal(closer, options.signal),
      });
    },
    async getPackage(packageId, options = {}) {
      if (typeof packageId !== 'string' || packageId === '') {
        throw new TypeError('marketplace.getPackage: packageId must be a non-empty string');
      }
      return transport.json(AnyPackageSchema, {
        method: 'GET',
        path: `/packages/${encodeURIComponent(packageId)}`,
        signal: callSignal(closer, options.signal),
      });
    },
  };
}
