// The longest line the line-based decoders (decodeSSE, decodeNDJSON) hold, and the error past it.
// A line is held whole until its line end arrives, so without a bound a stream that never sends
// one grows the buffer until the process runs out of memory.

import { SluiceError } from './errors.ts';

/**
 * Default `maxLineLength` of `decodeSSE`, `SSEParser` and `decodeNDJSON`: 64 Mi characters
 * (UTF-16 code units of the decoded text, so bytes for ASCII such as base64). A 16 MiB image,
 * base64-encoded in one line, is about 22.4 Mi characters.
 */
export const DEFAULT_MAX_LINE_LENGTH = 64 * 1024 * 1024;

/** A line longer than the decoder's `maxLineLength`; `line` is its 1-based number when known. */
export class LineTooLongError extends SluiceError {
  override name = 'LineTooLongError';
  readonly limit: number;
  readonly line: number | undefined;
  constructor(decoder: string, limit: number, found: number, line?: number) {
    const which = line === undefined ? 'a line' : `line ${line}`;
    super(
      'E_LINE_TOO_LONG',
      `${decoder}: ${which} is longer than ${limit.toLocaleString('en-US')} characters (maxLineLength): ${found.toLocaleString('en-US')} so far, no line end yet or beyond the limit`,
      {
        hint: `if lines this long are expected (large inline images), pass a larger maxLineLength (Infinity for none); otherwise the stream is probably not ${decoder === 'decodeNDJSON' ? 'NDJSON' : 'SSE'}`,
      },
    );
    this.limit = limit;
    this.line = line;
  }
}

/** Checks a `maxLineLength` option: a positive integer or Infinity. */
export function maxLineLengthOption(who: string, value: number | undefined): number {
  if (value === undefined) return DEFAULT_MAX_LINE_LENGTH;
  if (value === Number.POSITIVE_INFINITY || (Number.isSafeInteger(value) && value > 0)) return value;
  throw new RangeError(`${who}: maxLineLength must be a positive integer or Infinity, got ${String(value)}`);
}
