import type { AsyncIterableX } from '@reactivex/ix-esnext-esm/Ix.asynciterable';
import { fromIterator } from './iterable.ts';
import { LineTooLongError, maxLineLengthOption } from './line-limit.ts';

/** Invalid JSON in an NDJSON stream: `line` is the 1-based line number, `text` the line. */
export class NDJSONError extends SyntaxError {
  override name = 'NDJSONError';
  readonly code = 'E_NDJSON';
  readonly line: number;
  readonly text: string;
  constructor(line: number, text: string, cause: unknown) {
    const quoted = text.length > 200 ? `${text.slice(0, 200)}...` : text;
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(`decodeNDJSON: line ${line} is not valid JSON: ${JSON.stringify(quoted)} (${reason})`, { cause });
    this.line = line;
    this.text = text;
  }
}

/** Options of `decodeNDJSON`. */
export interface DecodeNDJSONOptions {
  /**
   * Longest line held, in characters (UTF-16 code units; bytes for ASCII), without its line end;
   * a longer one fails with `LineTooLongError` (code `E_LINE_TOO_LONG`, `line` its number).
   * Default `DEFAULT_MAX_LINE_LENGTH` (64 Mi); `Infinity` for no limit.
   */
  maxLineLength?: number;
}

/**
 * Parses newline-delimited JSON (bytes or text; LF or CRLF) into values, in order, as soon as each
 * line is complete. Blank lines are skipped; a last line without a newline is parsed too. Invalid
 * JSON throws `NDJSONError` naming the line number and quoting the line; a line longer than
 * `maxLineLength` throws `LineTooLongError`. Either stops the source. An unfinished line is kept
 * as the list of chunks that brought it and joined once, so time is linear in the input.
 */
export function decodeNDJSON<T = unknown>(
  input: AsyncIterable<Uint8Array | string>,
  options: DecodeNDJSONOptions = {},
): AsyncIterableX<T> {
  const maxLineLength = maxLineLengthOption('decodeNDJSON', options.maxLineLength);
  return fromIterator(() => decodeNDJSONGenerator<T>(input, maxLineLength));
}

async function* decodeNDJSONGenerator<T>(input: AsyncIterable<Uint8Array | string>, max: number): AsyncGenerator<T> {
  const decoder = new TextDecoder('utf-8');
  // The unfinished last line: the chunks that had no newline, and their total length.
  let held: string[] = [];
  let heldLength = 0;
  let lineNumber = 0;
  const parse = (line: string): { value: T } | undefined => {
    lineNumber++;
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (line.length > max) throw new LineTooLongError('decodeNDJSON', max, line.length, lineNumber);
    if (line.trim() === '') return undefined;
    try {
      return { value: JSON.parse(line) as T };
    } catch (error) {
      throw new NDJSONError(lineNumber, line, error);
    }
  };
  const hold = (text: string) => {
    heldLength += text.length;
    // One character more than the limit may be the CR of a CRLF still to come.
    if (heldLength > max + 1 || (heldLength === max + 1 && !text.endsWith('\r'))) {
      throw new LineTooLongError('decodeNDJSON', max, heldLength, lineNumber + 1);
    }
    held.push(text);
  };
  for await (const chunk of input) {
    const text = typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    let newline = text.indexOf('\n');
    if (newline === -1) {
      hold(text);
      continue;
    }
    let start = 0;
    if (heldLength > 0) {
      const line = held.join('') + text.slice(0, newline);
      held = [];
      heldLength = 0;
      const parsed = parse(line);
      if (parsed) yield parsed.value;
      start = newline + 1;
      newline = text.indexOf('\n', start);
    }
    while (newline !== -1) {
      const parsed = parse(text.slice(start, newline));
      if (parsed) yield parsed.value;
      start = newline + 1;
      newline = text.indexOf('\n', start);
    }
    if (start < text.length) hold(text.slice(start));
  }
  const rest = held.join('') + decoder.decode();
  held = [];
  if (rest.length > 0) {
    const parsed = parse(rest);
    if (parsed) yield parsed.value;
  }
}

const encoder = new TextEncoder();

/** Serialises each value as one JSON line (UTF-8 bytes), in order; a value JSON cannot represent is a TypeError. */
export function encodeNDJSON(values: AsyncIterable<unknown>): AsyncIterableX<Uint8Array> {
  return fromIterator(() => encodeNDJSONGenerator(values));
}

async function* encodeNDJSONGenerator(values: AsyncIterable<unknown>): AsyncGenerator<Uint8Array> {
  for await (const value of values) {
    const json = JSON.stringify(value);
    if (json === undefined) throw new TypeError(`encodeNDJSON: ${typeof value} values cannot be encoded as JSON`);
    yield encoder.encode(`${json}\n`);
  }
}
