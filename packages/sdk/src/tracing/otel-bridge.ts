// The optional bridge to an application's own OpenTelemetry tracer: when `@opentelemetry/api` is
// installed (an optional peer dependency), a pipeline or op started inside an active OTel span
// takes that span as its parent (same traceId, parentId the span's id). Loaded once by
// initTracing; without the package nothing changes.

import type * as OtelApi from '@opentelemetry/api';

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
