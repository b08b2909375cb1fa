// Tracing: calls, objects, feedback, an embedded store, OpenTelemetry out, a viewer.
export { TraceError, type TraceErrorCode } from './errors.ts';
export { type OpOptions, op } from './op.ts';
export { type OtlpExporterOptions, otlpExporter } from './otlp.ts';
export { TraceIndex } from './query.ts';
export { JSONL_STORE_DEFAULTS, type JsonlStoreOptions, jsonlStore } from './store/jsonl.ts';
export { type TracedOptions, traced } from './traced.ts';
export { activeTracing, initTracing, TRACING_DEFAULTS, type Tracing, type TracingOptions } from './tracing.ts';
export type {
  Call,
  CallQuery,
  Captured,
  CapturedPart,
  Feedback,
  StoredObject,
  TraceExporter,
  TraceRecord,
  TraceStats,
  TraceStore,
} from './types.ts';
export { startTraceViewer, type TraceViewer, type TraceViewerOptions } from './viewer/server.ts';
