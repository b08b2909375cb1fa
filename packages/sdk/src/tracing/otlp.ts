// otlpExporter: ended calls as OTLP/HTTP JSON spans, through the HTTP layer of
// @sluice/processors (retries with backoff honouring Retry-After). Batches of at most 512 spans
// or 1 MiB; a full batch is sent at once, the rest every second and on flush/close. A span too big
// for a batch is trimmed (content first, then long strings) or, failing that, dropped: never the
// batch. A bounded queue drops (and counts) spans when the collector cannot keep up.

import { requestJSON, UnexpectedResponseError } from '@sluice/processors';
import { z } from 'zod';
import { callToSpan, type OtlpKeyValue, type OtlpSpan } from './otlp-json.ts';
import type { Call, TraceExporter, TraceStats } from './types.ts';

/** Defaults of `otlpExporter`. */
export const OTLP_DEFAULTS = {
  maxBatchSpans: 512,
  maxBatchBytes: 1024 * 1024,
  /** Spans waiting to be sent at most (in all batches); more are dropped and counted. */
  maxQueuedSpans: 8192,
  scheduledDelayMs: 1000,
  maxRetries: 3,
  timeoutMs: 10_000,
  /** A string attribute of a span that does not fit is cut to this many characters. */
  trimmedStringLength: 1024,
};

export interface OtlpExporterOptions {
  /** The OTLP/HTTP traces endpoint, e.g. 'http://127.0.0.1:4318/v1/traces'. */
  url: string;
  headers?: Record<string, string>;
  /** Send inputs and outputs (prompts, completions) as span attributes; default false. */
  exportContent?: boolean;
  /** The resource's service.name; default 'sluice'. */
  serviceName?: string;
  maxBatchSpans?: number;
  maxBatchBytes?: number;
  maxQueuedSpans?: number;
  scheduledDelayMs?: number;
  maxRetries?: number;
  timeoutMs?: number;
  onWarning?: (message: string) => void;
}

const ENVELOPE_BYTES = 512;

interface Batch {
  spans: OtlpSpan[];
  bytes: number;
}

/**
 * An exporter sending each ended call as an OTLP span (JSON over HTTP) to `url`. `export` never
 * throws and never waits; failures (after retries) and drops are counted in `stats` and warned
 * about once; `flush()` sends what is pending, `close()` flushes and stops.
 */
export function otlpExporter(options: OtlpExporterOptions): TraceExporter {
  if (!options || typeof options.url !== 'string' || !/^https?:\/\//.test(options.url)) {
    throw new TypeError(
      `otlpExporter: url must be an http(s) URL of an OTLP/HTTP traces endpoint, got ${JSON.stringify(options?.url)}`,
    );
  }
  const maxSpans = options.maxBatchSpans ?? OTLP_DEFAULTS.maxBatchSpans;
  const maxBytes = options.maxBatchBytes ?? OTLP_DEFAULTS.maxBatchBytes;
  const maxQueued = options.maxQueuedSpans ?? OTLP_DEFAULTS.maxQueuedSpans;
  const delayMs = options.scheduledDelayMs ?? OTLP_DEFAULTS.scheduledDelayMs;
  const warn = options.onWarning ?? ((m: string) => console.warn(m));
  const warned = new Set<string>();
  const warnOnce = (kind: string, message: string) => {
    if (warned.has(kind)) return;
    warned.add(kind);
    try {
      warn(message);
    } catch {}
  };
  const resource = {
    attributes: [{ key: 'service.name', value: { stringValue: options.serviceName ?? 'sluice' } }],
  };
  const stats: TraceStats & { trimmed: number } = { written: 0, dropped: 0, errors: 0, trimmed: 0 };
  let current: Batch = { spans: [], bytes: ENVELOPE_BYTES };
  let queued = 0;
  let sending: Promise<void> = Promise.resolve();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let closed = false;

  const send = (batch: Batch) => {
    sending = sending.then(async () => {
      const body = {
        resourceSpans: [{ resource, scopeSpans: [{ scope: { name: '@sluice/sdk' }, spans: batch.spans }] }],
      };
      try {
        await requestJSON(
          {
            url: options.url,
            method: 'POST',
            provider: 'otlp',
            label: 'export spans',
            headers: { 'content-type': 'application/json', ...options.headers },
            body,
            idempotent: true,
          },
          z.unknown(),
          {
            maxRetries: options.maxRetries ?? OTLP_DEFAULTS.maxRetries,
            timeoutMs: options.timeoutMs ?? OTLP_DEFAULTS.timeoutMs,
          },
        );
        stats.written += batch.spans.length;
      } catch (error) {
        // A 2xx whose body is not JSON (an empty body) is a success.
        if (error instanceof UnexpectedResponseError && (error.status ?? 0) >= 200 && (error.status ?? 0) < 300) {
          stats.written += batch.spans.length;
        } else {
          stats.errors += batch.spans.length;
          warnOnce('send', `sluice tracing: the OTLP export to ${options.url} failed (${(error as Error).message})`);
        }
      } finally {
        queued -= batch.spans.length;
      }
    });
  };
  const seal = () => {
    if (timer) {
      clearTimeout(timer);
      timer = undefined;
    }
    if (current.spans.length === 0) return;
    const batch = current;
    current = { spans: [], bytes: ENVELOPE_BYTES };
    send(batch);
  };
  /** The span of `call` and its JSON size, trimmed to fit a batch; undefined when it cannot. */
  const encode = (call: Call): { span: OtlpSpan; bytes: number } | undefined => {
    const span = callToSpan(call, options.exportContent === true);
    let bytes = JSON.stringify(span).length;
    if (bytes + ENVELOPE_BYTES <= maxBytes) return { span, bytes };
    stats.trimmed++;
    trim(span, maxBytes);
    bytes = JSON.stringify(span).length;
    return bytes + ENVELOPE_BYTES <= maxBytes ? { span, bytes } : undefined;
  };

  return {
    stats,
    export(call: Call): void {
      try {
        if (closed) {
          stats.dropped++;
          return;
        }
        if (queued >= maxQueued) {
          stats.dropped++;
          warnOnce('dropped', `sluice tracing: the OTLP queue for ${options.url} is full; spans are being dropped`);
          return;
        }
        const encoded = encode(call);
        if (encoded === undefined) {
          stats.dropped++;
          warnOnce('size', `sluice tracing: a span larger than ${maxBytes} bytes was dropped`);
          return;
        }
        if (current.spans.length >= maxSpans || current.bytes + encoded.bytes + 1 > maxBytes) seal();
        current.spans.push(encoded.span);
        current.bytes += encoded.bytes + 1;
        queued++;
        if (current.spans.length >= maxSpans) seal();
        else if (!timer) {
          timer = setTimeout(seal, delayMs);
          timer.unref?.();
        }
      } catch {
        stats.errors++;
      }
    },
    async flush(): Promise<void> {
      seal();
      await sending;
    },
    async close(): Promise<void> {
      seal();
      await sending;
      closed = true;
    },
  };
}

/** Cuts a span down: content attributes go first, then every long string is shortened. */
function trim(span: OtlpSpan, maxBytes: number): void {
  const content = new Set(['sluice.inputs', 'sluice.output']);
  span.attributes = (span.attributes ?? []).filter((kv) => !content.has(kv.key));
  span.attributes.push({ key: 'sluice.truncated', value: { boolValue: true } });
  const cut = (kv: OtlpKeyValue) => {
    const s = kv.value?.stringValue;
    if (s !== undefined && s.length > OTLP_DEFAULTS.trimmedStringLength) {
      kv.value = { stringValue: `${s.slice(0, OTLP_DEFAULTS.trimmedStringLength)}...` };
    }
  };
  if (JSON.stringify(span).length + ENVELOPE_BYTES <= maxBytes) return;
  span.attributes.forEach(cut);
  for (const event of span.events ?? []) event.attributes?.forEach(cut);
  if (span.name.length > OTLP_DEFAULTS.trimmedStringLength)
    span.name = span.name.slice(0, OTLP_DEFAULTS.trimmedStringLength);
}
