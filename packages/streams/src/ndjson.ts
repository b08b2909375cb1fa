import type { AsyncIterableX } from '@reactivex/ix-esnext-esm/Ix.asynciterable';
import { fromIterator } from './iterable.ts';

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

/**
 * Parses newline-delimited JSON (bytes or text; LF or CRLF) into values, in order, as soon as each
 * line is complete. Blank lines are skipped; a last line without a newline is parsed too. Invalid
 * JSON throws `NDJSONError` naming the line number and quoting the line.
 */
export function decodeNDJSON<T = unknown>(input: AsyncIterable<Uint8Array | string>): AsyncIterableX<T> {
  return fromIterator(() => decodeNDJSONGenerator<T>(input));
}

async function* decodeNDJSONGenerator<T>(input: AsyncIterable<Uint8Array | string>): AsyncGenerator<T> {
  const decoder = new TextDecoder('utf-8');
  let buffer = '';
  let lineNumber = 0;
  const parse = (line: string): { value: T } | undefined => {
    lineNumber++;
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (line.trim() === '') return undefined;
    try {
      return { value: JSON.parse(line) as T };
    } catch (error) {
      throw new NDJSONError(lineNumber, line, error);
    }
  };
  for await (const chunk of input) {
    buffer += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    let start = 0;
    let newline = buffer.indexOf('\n');
    while (newline !== -1) {
      const parsed = parse(buffer.slice(start, newline));
      if (parsed) yield parsed.value;
      start = newline + 1;
      newline = buffer.indexOf('\n', start);
    }
    buffer = buffer.slice(start);
  }
  buffer += decoder.decode();
  if (buffer.length > 0) {
    const parsed = parse(buffer);
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
