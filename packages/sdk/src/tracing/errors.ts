import { SluiceError } from '@sluice/processors';

/** Codes of tracing errors: 'E_NOT_FOUND' for an unknown or deleted ref or call. */
export type TraceErrorCode = 'E_NOT_FOUND' | 'E_TRACE_REF';

/** A tracing operation failed: an unknown or deleted ref (`E_NOT_FOUND`), a malformed ref (`E_TRACE_REF`). */
export class TraceError extends SluiceError {
  override name = 'TraceError';
  declare readonly code: TraceErrorCode;
  constructor(code: TraceErrorCode, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(code, options.hint ? `${message} (${options.hint})` : message, options);
  }
}
