// Calls as OTLP/JSON spans and back: the exporter sends calls this way, the viewer's receiver
// turns the spans of any OpenTelemetry SDK into calls. Ids are OpenTelemetry's (hex); times are
// nanoseconds since the epoch as decimal strings; attributes are typed AnyValues.

import type { Call } from './types.ts';

export interface OtlpAnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string | number;
  doubleValue?: number;
  arrayValue?: { values?: OtlpAnyValue[] };
  kvlistValue?: { values?: OtlpKeyValue[] };
}
export interface OtlpKeyValue {
  key: string;
  value?: OtlpAnyValue;
}
export interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind?: number;
  startTimeUnixNano: string | number;
  endTimeUnixNano?: string | number;
  attributes?: OtlpKeyValue[];
  events?: { name: string; timeUnixNano?: string | number; attributes?: OtlpKeyValue[] }[];
  status?: { code?: number; message?: string };
}
export interface OtlpRequest {
  resourceSpans?: {
    resource?: { attributes?: OtlpKeyValue[] };
    scopeSpans?: { scope?: { name?: string; version?: string }; spans?: OtlpSpan[] }[];
  }[];
}

const SPAN_KIND_INTERNAL = 1;
const SPAN_KIND_CLIENT = 3;
const STATUS_OK = 1;
const STATUS_ERROR = 2;

export function toAnyValue(value: unknown): OtlpAnyValue {
  if (typeof value === 'string') return { stringValue: value };
  if (typeof value === 'boolean') return { boolValue: value };
  if (typeof value === 'number') return Number.isInteger(value) ? { intValue: String(value) } : { doubleValue: value };
  if (Array.isArray(value)) return { arrayValue: { values: value.map(toAnyValue) } };
  return { stringValue: JSON.stringify(value) ?? String(value) };
}

export function fromAnyValue(value: OtlpAnyValue | undefined): unknown {
  if (!value) return undefined;
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.boolValue !== undefined) return value.boolValue;
  if (value.intValue !== undefined) return Number(value.intValue);
  if (value.doubleValue !== undefined) return value.doubleValue;
  if (value.arrayValue) return (value.arrayValue.values ?? []).map(fromAnyValue);
  if (value.kvlistValue) return attributesOf(value.kvlistValue.values);
  return undefined;
}

export function attributesOf(list: OtlpKeyValue[] | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const kv of list ?? []) out[kv.key] = fromAnyValue(kv.value);
  return out;
}

const nanos = (ms: number) => `${BigInt(Math.round(ms * 1000)) * 1000n}`;

/** The span of an ended call; `content`: its inputs and output as JSON attributes. */
export function callToSpan(call: Call, content: boolean): OtlpSpan {
  const attributes: Record<string, unknown> = { ...call.attributes };
  attributes['sluice.project'] = call.project;
  if (call.kind) attributes['sluice.kind'] = call.kind;
  if (call.displayName) attributes['sluice.display_name'] = call.displayName;
  attributes['sluice.status'] = call.status;
  if (call.firstOutputAt !== undefined) attributes['sluice.first_output_ms'] = call.firstOutputAt - call.startedAt;
  const usage = call.summary.usage;
  if (usage && call.kind !== 'llm') {
    attributes['sluice.usage.input_tokens'] = usage.inputTokens;
    attributes['sluice.usage.output_tokens'] = usage.outputTokens;
  }
  if (content) {
    attributes['sluice.inputs'] = JSON.stringify(call.inputs ?? null);
    if (call.output !== undefined) attributes['sluice.output'] = JSON.stringify(call.output);
  }
  const span: OtlpSpan = {
    traceId: call.traceId,
    spanId: call.id,
    name: call.op,
    kind: call.kind === 'llm' ? SPAN_KIND_CLIENT : SPAN_KIND_INTERNAL,
    startTimeUnixNano: nanos(call.startedAt),
    endTimeUnixNano: nanos(call.endedAt ?? call.startedAt),
    attributes: Object.entries(attributes)
      .filter(([, v]) => v !== undefined && v !== null)
      .map(([key, value]) => ({ key, value: toAnyValue(value) })),
    status:
      call.status === 'error'
        ? { code: STATUS_ERROR, message: call.exception?.message ?? 'error' }
        : call.status === 'ok'
          ? { code: STATUS_OK }
          : {},
  };
  if (call.parentId) span.parentSpanId = call.parentId;
  if (call.exception) {
    const exception: OtlpKeyValue[] = [
      { key: 'exception.type', value: { stringValue: call.exception.name } },
      { key: 'exception.message', value: { stringValue: call.exception.message } },
    ];
    if (call.exception.stack)
      exception.push({ key: 'exception.stacktrace', value: { stringValue: call.exception.stack } });
    span.events = [{ name: 'exception', timeUnixNano: span.endTimeUnixNano, attributes: exception }];
  }
  return span;
}

/** A hex id from OTLP/JSON (hex per the spec; some senders use base64). */
export function hexId(id: string | undefined): string | undefined {
  if (!id) return undefined;
  if (/^[0-9a-fA-F]+$/.test(id) && (id.length === 16 || id.length === 32)) return id.toLowerCase();
  try {
    const hex = Buffer.from(id, 'base64').toString('hex');
    return hex.length === 16 || hex.length === 32 ? hex : undefined;
  } catch {
    return undefined;
  }
}

const toMs = (v: string | number | undefined) => (v === undefined ? undefined : Number(BigInt(v) / 1000n) / 1000);

/** The calls of an OTLP/JSON request (spans without valid ids are skipped). */
export function spansToCalls(request: OtlpRequest): Call[] {
  const out: Call[] = [];
  for (const rs of request.resourceSpans ?? []) {
    const resource = attributesOf(rs.resource?.attributes);
    for (const ss of rs.scopeSpans ?? []) {
      for (const span of ss.spans ?? []) {
        const traceId = hexId(span.traceId);
        const id = hexId(span.spanId);
        if (!traceId || !id || typeof span.name !== 'string') continue;
        const attributes = attributesOf(span.attributes);
        const take = (key: string) => {
          const value = attributes[key];
          delete attributes[key];
          return value;
        };
        const parse = (value: unknown) => {
          if (typeof value !== 'string') return undefined;
          try {
            return JSON.parse(value) as unknown;
          } catch {
            return value;
          }
        };
        const project = String(take('sluice.project') ?? resource['service.name'] ?? 'otel');
        const kind = take('sluice.kind') as string | undefined;
        const displayName = take('sluice.display_name') as string | undefined;
        const status = take('sluice.status') as Call['status'] | undefined;
        const firstMs = take('sluice.first_output_ms') as number | undefined;
        const inputs = parse(take('sluice.inputs'));
        const output = parse(take('sluice.output'));
        const usageIn = take('sluice.usage.input_tokens') ?? attributes['gen_ai.usage.input_tokens'];
        const usageOut = take('sluice.usage.output_tokens') ?? attributes['gen_ai.usage.output_tokens'];
        const startedAt = toMs(span.startTimeUnixNano) ?? 0;
        const endedAt = toMs(span.endTimeUnixNano);
        const exceptionEvent = span.events?.find((e) => e.name === 'exception');
        const call: Call = {
          id,
          traceId,
          project,
          op: span.name,
          kind: kind ?? (span.kind === SPAN_KIND_CLIENT ? 'llm' : 'span'),
          startedAt,
          status: status ?? (span.status?.code === STATUS_ERROR ? 'error' : 'ok'),
          inputs: inputs ?? {},
          attributes,
          summary: {},
          feedback: [],
        };
        const parentId = hexId(span.parentSpanId);
        if (parentId) call.parentId = parentId;
        if (displayName) call.displayName = displayName;
        if (endedAt !== undefined) call.endedAt = endedAt;
        if (firstMs !== undefined) call.firstOutputAt = startedAt + firstMs;
        if (output !== undefined) call.output = output;
        if (typeof usageIn === 'number' && typeof usageOut === 'number') {
          call.summary.usage = { inputTokens: usageIn, outputTokens: usageOut, totalTokens: usageIn + usageOut };
        }
        if (exceptionEvent || span.status?.code === STATUS_ERROR) {
          const e = attributesOf(exceptionEvent?.attributes);
          call.exception = {
            name: String(e['exception.type'] ?? 'Error'),
            message: String(e['exception.message'] ?? span.status?.message ?? 'error'),
          };
          if (e['exception.stacktrace']) call.exception.stack = String(e['exception.stacktrace']);
        }
        out.push(call);
      }
    }
  }
  return out;
}
