// The optional bridge to an application's own OpenTelemetry tracer: when `@opentelemetry/api` is
// installed (an optional peer dependency), a pipeline or op started inside an active OTel span
// takes that span as its parent (same traceId, parentId the span's id), and OTel code run inside
// a call (awaited by an op or an async part function, or in a stream processor) sees the call as
// the active span. Loaded once by initTracing; without the package nothing changes.

import type * as OtelApi from '@opentelemetry/api';
import { callStorage } from './context.ts';
import type { LiveCall } from './live-call.ts';

let api: typeof OtelApi | undefined;
let loading: Promise<void> | undefined;

/** Loads `@opentelemetry/api` if the application has it (once; a failure leaves the bridge off). */
export function loadOtelBridge(): Promise<void> {
  loading ??= import('@opentelemetry/api').then(
    (m) => {
      api = m;
    },
    () => {},
  );
  return loading;
}

/** A parent outside our calls: the OpenTelemetry span active where a call starts. */
export interface ForeignParent {
  readonly foreign: true;
  readonly traceId: string;
  readonly spanId: string;
}

/** The valid OpenTelemetry span context active now, as a parent; undefined without one. */
export function otelParent(): ForeignParent | undefined {
  if (!api) return undefined;
  const span = api.trace.getActiveSpan();
  if (!span) return undefined;
  const sc = span.spanContext();
  if (!api.isSpanContextValid(sc)) return undefined;
  return { foreign: true, traceId: sc.traceId, spanId: sc.spanId };
}

export function isForeignParent(value: unknown): value is ForeignParent {
  return typeof value === 'object' && value !== null && (value as ForeignParent).foreign === true;
}

const spans = new WeakMap<LiveCall, OtelApi.Span>();

/**
 * Runs `fn(...args)` with `live` as the current call of the async context and, when the bridge is
 * on, as the active OpenTelemetry span (a non-recording span with the call's ids), so OTel code
 * that `fn` awaits starts its spans as children of the call.
 */
export function runInCall<A extends unknown[], R>(live: LiveCall, fn: (...args: A) => R, ...args: A): R {
  const otel = api;
  if (!otel) return callStorage.run(live, fn, ...args);
  let span = spans.get(live);
  if (!span) {
    span = otel.trace.wrapSpanContext({
      traceId: live.record.traceId,
      spanId: live.record.id,
      traceFlags: otel.TraceFlags.SAMPLED,
    });
    spans.set(live, span);
  }
  const active = otel.trace.setSpan(otel.context.active(), span);
  return callStorage.run(live, () => otel.context.with(active, () => fn(...args)));
}
