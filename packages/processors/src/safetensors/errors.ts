// Errors of the weights code: `WeightsError`, the base that the safetensors reader and `align`
// share, and `FormatError` for a file that is not valid safetensors. One class per failure kind,
// each with a stable string `code` (the table is in docs/errors.md) and a `hint`.

import { SluiceError } from '@sluice/streams';

/** Codes carried by every weights error; stable, safe to switch on. */
export type WeightsErrorCode =
  | 'E_FORMAT'
  | 'E_UNMATCHED'
  | 'E_CONFLICT'
  | 'E_SHAPE'
  | 'E_DTYPE'
  | 'E_NONFINITE'
  | 'E_OUTPUT';

/** Base class of the weights errors: `code` is stable, `hint` says what to do about it. */
export class WeightsError extends SluiceError {
  declare readonly code: WeightsErrorCode;
  constructor(code: WeightsErrorCode, message: string, options?: { hint?: string; cause?: unknown }) {
    super(code, options?.hint ? `${message} (hint: ${options.hint})` : message, options);
    this.name = 'WeightsError';
  }
}

/** Why a safetensors file was refused; `FormatError.reason`. */
export type FormatReason =
  | 'too-short'
  | 'header-too-large'
  | 'invalid-utf8'
  | 'invalid-json'
  | 'invalid-header-start'
  | 'invalid-metadata'
  | 'invalid-entry'
  | 'unknown-dtype'
  | 'duplicate-name'
  | 'invalid-offsets'
  | 'size-mismatch'
  | 'size-overflow'
  | 'data-length'
  | 'invalid-index';

/** A file that is not valid safetensors (or a sharded index that is not valid); `reason` says which check failed. */
export class FormatError extends WeightsError {
  readonly reason: FormatReason;
  readonly path: string | undefined;
  constructor(reason: FormatReason, message: string, options?: { path?: string; hint?: string; cause?: unknown }) {
    super('E_FORMAT', options?.path ? `${options.path}: ${message}` : message, options);
    this.name = 'FormatError';
    this.reason = reason;
    this.path = options?.path;
  }
}
