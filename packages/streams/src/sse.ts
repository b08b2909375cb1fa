import type { AsyncIterableX } from '@reactivex/ix-esnext-esm/Ix.asynciterable';
import { fromIterator, interruptible } from './iterable.ts';
import { LineTooLongError, maxLineLengthOption } from './line-limit.ts';
import { ABANDONED, stopSource } from './stop.ts';

/** One server-sent event. `event` is undefined when the block had no `event:` field. */
export interface SSEEvent {
  event?: string;
  data: string;
  /** The last event ID (it persists across events until an `id:` field changes it). */
  id?: string;
  /** Set on the event whose block carried a valid `retry:` field. */
  retry?: number;
}

/** Options of `decodeSSE` and `SSEParser`. */
export interface DecodeSSEOptions {
  /**
   * Longest line held, in characters (UTF-16 code units; bytes for ASCII), its field name
   * included; a longer one fails with `LineTooLongError` (code `E_LINE_TOO_LONG`). Default
   * `DEFAULT_MAX_LINE_LENGTH` (64 Mi); `Infinity` for no limit.
   */
  maxLineLength?: number;
}

/**
 * Incremental parser following the WHATWG EventSource rules: CR, LF and CRLF line ends (also
 * when a CRLF is split across chunks), multi-line `data`, comments, `event`/`id`/`retry`, a
 * leading BOM, and no dispatch for a block without data. Text after the last blank line is
 * discarded at the end of the stream, as the spec says. An unfinished line is kept as a list of
 * the chunks that brought it and joined once its line end arrives, so a long line costs one pass
 * over its text. `feed` throws `LineTooLongError` for a line longer than `maxLineLength`.
 */
export class SSEParser {
  /** The unfinished last line: its first piece, the later chunks that had no line end, their total length. */
  #held = '';
  #more: string[] = [];
  #heldLength = 0;
  readonly #maxLine: number;
  #pendingCR = false;
  #sawFirst = false;
  #data = '';
  #hasData = false;
  #event: string | undefined;
  #retry: number | undefined;
  #lastId = '';

  constructor(options: DecodeSSEOptions = {}) {
    this.#maxLine = maxLineLengthOption('SSEParser', options.maxLineLength);
  }

  /** Feeds decoded text; calls `emit` for every complete event. */
  feed(text: string, emit: (event: SSEEvent) => void): void {
    if (text.length === 0) return;
    if (!this.#sawFirst) {
      this.#sawFirst = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    if (this.#pendingCR) {
      this.#pendingCR = false;
      if (text.charCodeAt(0) === 10) text = text.slice(1);
    }
    let buffer = text;
    let lf = text.indexOf('\n');
    let cr: number;
    if (this.#heldLength > 0) {
      // Still inside a line: only the new text is searched for its end (the held text has none).
      const skip = this.#heldLength;
      cr = text.indexOf('\r');
      if (lf === -1 && cr === -1) {
        this.#hold(text);
        return;
      }
      const more = this.#more;
      buffer = more.length === 0 ? this.#held + text : this.#held + more.join('') + text;
      this.#held = '';
      more.length = 0;
      this.#heldLength = 0;
      if (lf !== -1) lf += skip;
      if (cr !== -1) cr += skip;
    } else cr = text.indexOf('\r');
    const length = buffer.length;
    const max = this.#maxLine;
    let start = 0;
    if (cr === -1) {
      // LF-only text (what servers send): one indexOf per line, `data:` lines inline, and a
      // single-line event (`data: x` + blank line) dispatched without touching the data buffer.
      while (lf !== -1) {
        if (lf - start > max) throw new LineTooLongError('decodeSSE', max, lf - start);
        if (lf === start) {
          this.#dispatch(emit);
        } else if (
          buffer.charCodeAt(start) === 100 &&
          buffer.charCodeAt(start + 4) === 58 &&
          buffer.startsWith('data', start)
        ) {
          const valueStart = buffer.charCodeAt(start + 5) === 32 && start + 5 < lf ? start + 6 : start + 5;
          const value = buffer.slice(valueStart, lf);
          if (!this.#hasData && buffer.charCodeAt(lf + 1) === 10) {
            this.#hasData = true;
            this.#data = value;
            this.#dispatch(emit);
            start = lf + 2;
            lf = buffer.indexOf('\n', start);
            continue;
          }
          if (this.#hasData) this.#data += `\n${value}`;
          else {
            this.#data = value;
            this.#hasData = true;
          }
        } else {
          this.#line(buffer, start, lf, emit);
        }
        start = lf + 1;
        lf = buffer.indexOf('\n', start);
      }
      if (start < length) this.#hold(buffer.slice(start));
      return;
    }
    while (start < length) {
      if (lf !== -1 && lf < start) lf = buffer.indexOf('\n', start);
      if (cr !== -1 && cr < start) cr = buffer.indexOf('\r', start);
      let end: number;
      let next: number;
      if (cr === -1 || (lf !== -1 && lf < cr)) {
        if (lf === -1) break;
        end = lf;
        next = lf + 1;
      } else {
        end = cr;
        if (cr + 1 < length) {
          next = buffer.charCodeAt(cr + 1) === 10 ? cr + 2 : cr + 1;
        } else {
          next = cr + 1;
          this.#pendingCR = true;
        }
      }
      if (end - start > max) throw new LineTooLongError('decodeSSE', max, end - start);
      this.#line(buffer, start, end, emit);
      start = next;
    }
    if (start < length) this.#hold(buffer.slice(start));
  }

  /** Keeps text of the unfinished line, failing once the line is longer than allowed. */
  #hold(text: string): void {
    const found = this.#heldLength + text.length;
    if (found > this.#maxLine) {
      this.#held = '';
      this.#more.length = 0;
      this.#heldLength = 0;
      throw new LineTooLongError('decodeSSE', this.#maxLine, found);
    }
    if (this.#heldLength === 0) this.#held = text;
    else this.#more.push(text);
    this.#heldLength = found;
  }

  #line(buffer: string, start: number, end: number, emit: (event: SSEEvent) => void): void {
    if (start === end) {
      this.#dispatch(emit);
      return;
    }
    const first = buffer.charCodeAt(start);
    if (first === 58 /* ':' */) return;
    let colon = buffer.indexOf(':', start);
    if (colon === -1 || colon > end) colon = end;
    let valueStart = colon + 1;
    if (valueStart < end && buffer.charCodeAt(valueStart) === 32) valueStart++;
    const value = colon >= end ? '' : buffer.slice(valueStart, end);
    // Compare the field name in place: no substring per line on the hot path.
    const length = colon - start;
    if (length === 4 && first === 100 /* d */ && buffer.startsWith('data', start)) {
      if (this.#hasData) this.#data += `\n${value}`;
      else {
        this.#data = value;
        this.#hasData = true;
      }
    } else if (length === 5 && first === 101 /* e */ && buffer.startsWith('event', start)) {
      // An empty `event:` means the default type, as if the field were absent.
      this.#event = value === '' ? undefined : value;
    } else if (length === 2 && first === 105 /* i */ && buffer.charCodeAt(start + 1) === 100) {
      if (!value.includes('\0')) this.#lastId = value;
    } else if (length === 5 && first === 114 /* r */ && buffer.startsWith('retry', start)) {
      if (/^[0-9]+$/.test(value)) this.#retry = Number.parseInt(value, 10);
    }
  }

  #dispatch(emit: (event: SSEEvent) => void): void {
    if (!this.#hasData) {
      this.#event = undefined;
      this.#retry = undefined;
      return;
    }
    const event: SSEEvent = { data: this.#data };
    if (this.#event !== undefined) event.event = this.#event;
    if (this.#lastId !== '') event.id = this.#lastId;
    if (this.#retry !== undefined) event.retry = this.#retry;
    this.#data = '';
    this.#hasData = false;
    this.#event = undefined;
    this.#retry = undefined;
    emit(event);
  }
}

/**
 * Parses a server-sent-events byte (or text) stream into events, following the WHATWG rules
 * (see `SSEParser`); UTF-8 characters split across chunks decode whole. Events come out as
 * soon as their blank line arrives; time is linear in the input, however long its lines. A line
 * longer than `maxLineLength` fails with `LineTooLongError` (code `E_LINE_TOO_LONG`) and stops
 * the source. Errors and early stops pass straight through to the source.
 */
export function decodeSSE(
  input: AsyncIterable<Uint8Array | string>,
  options: DecodeSSEOptions = {},
): AsyncIterableX<SSEEvent> {
  const maxLineLength = maxLineLengthOption('decodeSSE', options.maxLineLength);
  return fromIterator(() => decodeSSEGenerator(input, maxLineLength));
}

async function* decodeSSEGenerator(
  input: AsyncIterable<Uint8Array | string>,
  maxLineLength: number,
): AsyncGenerator<SSEEvent> {
  const parser = new SSEParser({ maxLineLength });
  // The parser strips the one leading BOM the spec allows; the decoder must not strip another.
  const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  const events: SSEEvent[] = [];
  const emit = (event: SSEEvent) => {
    events.push(event);
  };
  for await (const chunk of input) {
    parser.feed(typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true }), emit);
    if (events.length === 1) yield events.pop()!;
    else if (events.length > 0) {
      const batch = events.splice(0);
      for (const event of batch) yield event;
    }
  }
  parser.feed(decoder.decode(), emit);
  for (const event of events) yield event;
}

const encoder = new TextEncoder();
const PING = encoder.encode(': ping\n\n');
const TIMEOUT = Symbol('timeout');
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Serialises one event in the wire format (data split into `data:` lines). */
export function formatSSE(event: SSEEvent): string {
  let out = '';
  if (event.event !== undefined) out += `event: ${single(event.event, 'event')}\n`;
  if (event.id !== undefined) out += `id: ${single(event.id, 'id')}\n`;
  if (event.retry !== undefined) {
    if (!Number.isInteger(event.retry) || event.retry < 0) {
      throw new TypeError(`encodeSSE: retry must be a non-negative integer, got ${String(event.retry)}`);
    }
    out += `retry: ${event.retry}\n`;
  }
  const data = event.data;
  if (data.indexOf('\n') === -1 && data.indexOf('\r') === -1) out += `data: ${data}\n\n`;
  else
    out += `${data
      .split(/\r\n|\r|\n/)
      .map((line) => `data: ${line}\n`)
      .join('')}\n`;
  return out;
}

function single(value: string, field: string): string {
  if (/[\r\n]/.test(value))
    throw new TypeError(`encodeSSE: the ${field} field cannot contain a line break: ${JSON.stringify(value)}`);
  return value;
}

/**
 * Serialises events to UTF-8 bytes, one chunk per event, in order. With `heartbeatMs`, a comment
 * line (`: ping`) is sent whenever no event came for that long (it decodes to no event), so
 * proxies keep the connection open; 0 or Infinity means no heartbeat. Stopping early stops the
 * source and clears the timer.
 */
export function encodeSSE(
  events: AsyncIterable<SSEEvent>,
  options: { heartbeatMs?: number } = {},
): AsyncIterableX<Uint8Array> {
  let heartbeatMs = options.heartbeatMs;
  if (heartbeatMs !== undefined && !(heartbeatMs >= 0)) {
    throw new RangeError(`encodeSSE: heartbeatMs must be >= 0 (0 or Infinity: none), got ${String(heartbeatMs)}`);
  }
  if (heartbeatMs === 0 || heartbeatMs === Number.POSITIVE_INFINITY) heartbeatMs = undefined;
  if (heartbeatMs !== undefined && heartbeatMs > MAX_TIMER_MS) {
    throw new RangeError(
      `encodeSSE: heartbeatMs must be at most ${MAX_TIMER_MS} (timers overflow beyond), got ${heartbeatMs}`,
    );
  }
  const every = heartbeatMs;
  if (every === undefined) return fromIterator(() => encodePlain(events));
  return fromIterator(() => {
    const control = { interrupt: () => {} };
    return interruptible(encodeWithHeartbeat(events, every, control), () => control.interrupt());
  });
}

async function* encodePlain(events: AsyncIterable<SSEEvent>): AsyncGenerator<Uint8Array> {
  for await (const event of events) yield encoder.encode(formatSSE(event));
}

async function* encodeWithHeartbeat(
  events: AsyncIterable<SSEEvent>,
  heartbeatMs: number,
  control: { interrupt: () => void },
): AsyncGenerator<Uint8Array> {
  const iterator = events[Symbol.asyncIterator]();
  let pending: Promise<IteratorResult<SSEEvent>> | undefined;
  let done = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  /** Ends the wait for the next event or heartbeat when the consumer returns this iterator. */
  let interrupt: (() => void) | undefined;
  let interrupted = false;
  control.interrupt = () => {
    interrupted = true;
    interrupt?.();
  };
  try {
    while (!interrupted) {
      pending ??= iterator.next();
      const current = pending;
      const result = await new Promise<IteratorResult<SSEEvent> | typeof TIMEOUT>((resolve, reject) => {
        timer = setTimeout(() => resolve(TIMEOUT), heartbeatMs);
        interrupt = () => resolve(TIMEOUT);
        current.then(resolve, reject);
      });
      interrupt = undefined;
      clearTimeout(timer);
      timer = undefined;
      if (interrupted) return;
      if (result === TIMEOUT) {
        yield PING;
        continue;
      }
      pending = undefined;
      if (result.done) {
        done = true;
        return;
      }
      yield encoder.encode(formatSSE(result.value));
    }
  } catch (error) {
    done = true;
    throw error;
  } finally {
    if (timer !== undefined) clearTimeout(timer);
    if (!done) {
      // A read may be pending across heartbeats: do not wait on a source blocked in it.
      const outcome = await stopSource(iterator, pending !== undefined);
      if (outcome !== undefined && outcome !== ABANDONED) throw outcome.error;
    }
  }
}
