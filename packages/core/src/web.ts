import {
  decodeSSE,
  type ErrorJSON,
  encodeSSE,
  errorFromJSON,
  errorToJSON,
  markPrompt,
  SluiceError,
  type SSEEvent,
  stopSource,
} from '@sluice/streams';
import { Lazy } from './lazy.ts';
import { fromJSON, type Part, toJSON } from './part.ts';
import { PartStream } from './stream.ts';

/** Default interval of the keep-alive comments `sseResponse` sends while no part comes (0: none). */
export const DEFAULT_HEARTBEAT_MS = 15_000;

/**
 * Streams parts to an HTTP client as server-sent events (Web `Response`, so it serves Node, edge
 * runtimes and service workers alike): one event per part, data = JSON of `toJSON(part)`, in order,
 * with `: ping` comments every `heartbeatMs` (default 15 s) of silence. When the client disconnects
 * (the body is cancelled) the pipeline is stopped; a failure is sent as a last event 'error' with
 * { name, message }.
 */
export function sseResponse(stream: AsyncIterable<Part>, init: ResponseInit & { heartbeatMs?: number } = {}): Response {
  const { heartbeatMs = DEFAULT_HEARTBEAT_MS, ...responseInit } = init;
  // Held directly so a disconnect can stop the pipeline even while a read of it is pending.
  const parts = stream[Symbol.asyncIterator]();
  const bytes = encodeSSE(toEvents(parts), { heartbeatMs })[Symbol.asyncIterator]();
  const body = new ReadableStream<Uint8Array>(
    {
      pull: async (controller) => {
        const result = await bytes.next();
        if (result.done) controller.close();
        else controller.enqueue(result.value);
      },
      cancel: async () => {
        // A read may be pending in both; a stream that is blocked in it (a user's generator waiting
        // on something that never comes) is returned but not waited for (see `stopSource`).
        await Promise.all([stopSource(parts, true), stopSource(bytes, true)]);
      },
    },
    { highWaterMark: 0 },
  );
  const headers = new Headers(responseInit.headers);
  if (!headers.has('content-type')) headers.set('content-type', 'text/event-stream; charset=utf-8');
  if (!headers.has('cache-control')) headers.set('cache-control', 'no-cache, no-transform');
  if (!headers.has('x-accel-buffering')) headers.set('x-accel-buffering', 'no');
  return new Response(body, { ...responseInit, headers });
}

async function* toEvents(parts: AsyncIterator<Part>): AsyncGenerator<SSEEvent> {
  let done = false;
  try {
    while (true) {
      const result = await parts.next();
      if (result.done) {
        done = true;
        return;
      }
      yield { data: JSON.stringify(toJSON(result.value)) };
    }
  } catch (error) {
    done = true;
    // name, message, and code and hint where the error has them; never the stack or other fields,
    // which would show a browser the server's internals.
    const { name, message, code, hint } = errorToJSON(error);
    yield { event: 'error', data: JSON.stringify({ name, message, code, hint }) };
  } finally {
    if (!done) await parts.return?.();
  }
}

/**
 * Reads the parts `sseResponse` sends, from a fetch `Response` or a byte stream, in order. An
 * 'error' event is thrown as an Error with that name and message. Stopping early (break, `signal`)
 * cancels the body, which closes the connection; `return()` does so at once, even while a read
 * waits for the server.
 */
export function readParts(
  input: Response | ReadableStream<Uint8Array>,
  options: { signal?: AbortSignal } = {},
): PartStream {
  return new PartStream(
    new Lazy(() => {
      const control = { interrupt: noop };
      const generator = readPartsGenerator(input, options.signal, control);
      // A generator queues return() behind a pending read: cancel the body first, which ends it.
      return markPrompt({
        next: () => generator.next(),
        return: (value?: unknown) => {
          control.interrupt();
          return generator.return(value as Part);
        },
        throw: (error?: unknown) => generator.throw(error),
      });
    }),
  );
}

function noop(): void {}

async function* readPartsGenerator(
  input: Response | ReadableStream<Uint8Array>,
  signal: AbortSignal | undefined,
  control: { interrupt: () => void },
): AsyncGenerator<Part> {
  if (signal?.aborted) throw signal.reason;
  const body = input instanceof ReadableStream ? input : input.body;
  if (!body) throw new TypeError('readParts: the response has no body');
  if (!(input instanceof ReadableStream) && !input.ok) {
    await body.cancel().catch(() => {});
    throw new SluiceError(
      'E_BAD_RESPONSE',
      `readParts: the server answered ${input.status} ${input.statusText}; expected a text/event-stream of parts`,
      { hint: 'check the URL and that the server streams with sseResponse()' },
    );
  }
  const reader = body.getReader();
  let interrupted = false;
  control.interrupt = () => {
    interrupted = true;
    void reader.cancel().catch(() => {});
  };
  const onAbort = () => {
    void reader.cancel(signal!.reason).catch(() => {});
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  async function* chunks(): AsyncGenerator<Uint8Array> {
    while (true) {
      const { done, value } = await reader.read();
      if (done) return;
      yield value;
    }
  }
  let finished = false;
  try {
    for await (const event of decodeSSE(chunks())) {
      if (signal?.aborted) throw signal.reason;
      if (event.event === 'error') {
        throw errorFromJSON(parseError(event.data));
      }
      if (event.event !== undefined && event.event !== 'message' && event.event !== 'part') continue;
      yield fromJSON(JSON.parse(event.data));
    }
    if (signal?.aborted) throw signal.reason;
    finished = !interrupted;
  } finally {
    signal?.removeEventListener('abort', onAbort);
    if (!finished) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}

function parseError(data: string): ErrorJSON {
  try {
    const value = JSON.parse(data) as { name?: unknown; message?: unknown; code?: unknown; hint?: unknown };
    const out: ErrorJSON = {
      name: typeof value.name === 'string' ? value.name : 'Error',
      message: typeof value.message === 'string' ? value.message : data,
    };
    if (typeof value.code === 'string') out.code = value.code;
    if (typeof value.hint === 'string') out.hint = value.hint;
    return out;
  } catch {
    return { name: 'Error', message: data };
  }
}
