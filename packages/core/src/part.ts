import { SluiceError } from '@sluice/streams';
import { z } from 'zod';
import { fromBase64, toBase64 } from './base64.ts';

/** A piece of content with its mimetype, role, substream and metadata. Frozen; create new parts instead of mutating. */
export interface Part {
  readonly mimetype: string;
  /** Present iff the part is textual (`isText(mimetype)`). */
  readonly text?: string;
  /** Present for binary parts. */
  readonly data?: Uint8Array;
  /** 'user' | 'model' | 'system' | 'tool' | '' */
  readonly role: string;
  /** '' by default; 'status', 'debug' and 'ui' (and their '/' children) are reserved. */
  readonly substream: string;
  readonly metadata: Readonly<Record<string, unknown>>;
  readonly toolCall?: { readonly id: string; readonly name: string; readonly args: unknown };
  readonly toolResult?: {
    readonly id: string;
    readonly name: string;
    readonly result: unknown;
    readonly isError?: boolean;
  };
}

/** What a processor may yield or take: a part, a string (text/plain) or bytes (application/octet-stream). */
export type PartLike = Part | string | Uint8Array;
export type ContentLike = PartLike | Iterable<PartLike> | AsyncIterable<PartLike>;
export type PartInit = { -readonly [K in keyof Part]?: Part[K] };

const EMPTY_METADATA: Readonly<Record<string, unknown>> = Object.freeze({});
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const PART = Symbol.for('sluice.part');
/** @internal Marks objects made by `part()`: frozen, complete, safe to pass on as they are. */
export const PART_BRAND: symbol = PART;

/** Mimetype of the part `catchErrors` emits in place of an error. */
export const EXCEPTION_MIMETYPE = 'text/x-exception';
export const TOOL_CALL_MIMETYPE = 'application/x-tool-call';
export const TOOL_RESULT_MIMETYPE = 'application/x-tool-result';

/** True for `text/*`, `application/json` and `*+json` mimetypes (parameters ignored), or parts with one. */
export function isText(partOrMimetype: Part | string): boolean {
  const mimetype = typeof partOrMimetype === 'string' ? partOrMimetype : partOrMimetype.mimetype;
  if (mimetype.startsWith('text/')) return true;
  const semicolon = mimetype.indexOf(';');
  const base = (semicolon === -1 ? mimetype : mimetype.slice(0, semicolon)).trim().toLowerCase();
  return base.startsWith('text/') || base === 'application/json' || base.endsWith('+json');
}

/** @internal Fast check: `value` is a frozen part made by `part()` (usable as it is). */
export function isOwnPart(value: unknown): value is Part {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[PART] === true;
}

/** True when `value` is a part made by this library (or any object with the Part fields). */
export function isPart(value: unknown): value is Part {
  return (
    typeof value === 'object' &&
    value !== null &&
    ((value as Record<symbol, unknown>)[PART] === true ||
      (typeof (value as Part).mimetype === 'string' && !(value instanceof Uint8Array)))
  );
}

/**
 * Makes a part from a string (text/plain), bytes (application/octet-stream) or another part;
 * fields in `init` replace the source's (metadata included). Textual mimetypes carry `.text`
 * (bytes are decoded as UTF-8), others carry `.data`.
 */
export function part(x: PartLike, init?: PartInit): Part {
  let mimetype: string;
  let text: string | undefined;
  let data: Uint8Array | undefined;
  let base: Part | undefined;
  if (typeof x === 'string') {
    mimetype = 'text/plain';
    text = x;
  } else if (x instanceof Uint8Array) {
    mimetype = 'application/octet-stream';
    data = x;
  } else if (isPart(x)) {
    if (init === undefined && (x as unknown as Record<symbol, unknown>)[PART] === true) return x;
    base = x;
    mimetype = x.mimetype;
    text = x.text;
    data = x.data;
  } else {
    throw new TypeError(`part: expected a Part, a string or a Uint8Array, got ${describe(x)}`);
  }
  if (init) {
    if (init.mimetype !== undefined) mimetype = init.mimetype;
    if (init.text !== undefined) {
      text = init.text;
      if (init.data === undefined) data = undefined;
    }
    if (init.data !== undefined) {
      data = init.data;
      if (init.text === undefined) text = undefined;
    }
  }
  if (typeof mimetype !== 'string' || mimetype === '') throw new TypeError('part: mimetype must be a non-empty string');
  if (isText(mimetype)) {
    if (text === undefined) text = data ? decoder.decode(data) : '';
    data = undefined;
  } else if (text !== undefined) {
    data = data ?? encoder.encode(text);
    text = undefined;
  }
  const out: Record<string | symbol, unknown> = {
    mimetype,
    role: init?.role ?? base?.role ?? '',
    substream: init?.substream ?? base?.substream ?? '',
    metadata: freezeMetadata(init?.metadata ?? base?.metadata),
  };
  if (text !== undefined) out.text = text;
  if (data !== undefined) out.data = data;
  const toolCall = init?.toolCall ?? base?.toolCall;
  if (toolCall) out.toolCall = Object.freeze({ ...toolCall });
  const toolResult = init?.toolResult ?? base?.toolResult;
  if (toolResult) out.toolResult = Object.freeze({ ...toolResult });
  Object.defineProperty(out, PART, { value: true });
  return Object.freeze(out) as unknown as Part;
}

function freezeMetadata(metadata: Readonly<Record<string, unknown>> | undefined): Readonly<Record<string, unknown>> {
  if (!metadata || metadata === EMPTY_METADATA) return EMPTY_METADATA;
  return Object.isFrozen(metadata) ? metadata : Object.freeze({ ...metadata });
}

function describe(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'an array';
  return typeof x === 'object' ? `an object with keys ${Object.keys(x as object).join(', ') || '(none)'}` : typeof x;
}

/** A text/plain part. */
export function textPart(text: string, init?: PartInit): Part {
  return part(text, init);
}

/** A binary part; a textual mimetype decodes the bytes to `.text`. */
export function dataPart(data: Uint8Array, mimetype: string, init?: PartInit): Part {
  return part(data, { ...init, mimetype });
}

/** A JSON part: mimetype 'application/json', or 'application/json; type=<type>'; `.text` is the JSON. */
export function jsonPart(value: unknown, init?: PartInit & { type?: string }): Part {
  const json = JSON.stringify(value);
  if (json === undefined) throw new TypeError(`jsonPart: ${typeof value} values cannot be encoded as JSON`);
  const { type, ...rest } = init ?? {};
  return part(json, { ...rest, mimetype: type ? `application/json; type=${type}` : 'application/json' });
}

/**
 * The `type=` parameter of a JSON mimetype ('' when it has none, quotes removed), or undefined for
 * a mimetype that is not 'application/json'. `jsonTypeOf('application/json; type=DownloadResult')`
 * is 'DownloadResult'; 'type=DownloadResultX' is 'DownloadResultX', never a match for it.
 */
export function jsonTypeOf(mimetype: string): string | undefined {
  const semicolon = mimetype.indexOf(';');
  const essence = (semicolon < 0 ? mimetype : mimetype.slice(0, semicolon)).trim().toLowerCase();
  if (essence !== 'application/json') return undefined;
  if (semicolon < 0) return '';
  for (const param of mimetype.slice(semicolon + 1).split(';')) {
    const eq = param.indexOf('=');
    if (eq < 0 || param.slice(0, eq).trim().toLowerCase() !== 'type') continue;
    return param
      .slice(eq + 1)
      .trim()
      .replace(/^"(.*)"$/, '$1');
  }
  return '';
}

/**
 * The JSON object a part carries (its `.text` parsed), or undefined when it carries none: not
 * textual, not JSON, or JSON that is not an object. Never throws, so a `match` can use it.
 */
export function jsonObjectOf(p: Part): Record<string, unknown> | undefined {
  if (p.text === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(p.text);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** A typed JSON part kind declared once: its mimetype, a maker, a test and a validating reader. */
export interface JSONPartType<T> {
  /** The `type=` name, e.g. 'DownloadResult'. */
  readonly type: string;
  /** 'application/json; type=<type>'. */
  readonly mimetype: string;
  readonly schema: z.ZodType<T>;
  /** A part of this type holding `value` (validated first: a value the schema refuses throws `PartError`). */
  make(value: T, init?: PartInit): Part;
  /** True when the part's mimetype is exactly this JSON type (any other type, or none, is false). */
  is(part: Part): boolean;
  /** The part's value, validated; throws `PartError` for a part of another type or a value the schema refuses. */
  read(part: Part): T;
}

/**
 * Declares a typed JSON part kind once, e.g. `const DownloadResultPart = jsonPartType('DownloadResult',
 * DownloadResultSchema)`, so every producer makes it and every consumer tests and reads it the same
 * way (`DownloadResultPart.is(p)`, `DownloadResultPart.read(p)`). The schema is the one source of
 * truth for the type.
 */
export function jsonPartType<T>(type: string, schema: z.ZodType<T>): JSONPartType<T> {
  if (!/^[A-Za-z][\w.-]*$/.test(type)) {
    throw new TypeError(
      `jsonPartType: type must be a name of letters, digits, '_', '.', '-', got ${JSON.stringify(type)}`,
    );
  }
  const mimetype = `application/json; type=${type}`;
  const is = (p: Part) => p.mimetype === mimetype || jsonTypeOf(p.mimetype) === type;
  return {
    type,
    mimetype,
    schema,
    make(value, init) {
      const parsed = schema.safeParse(value);
      if (!parsed.success) {
        const paths = parsed.error.issues.map((i) => i.path.join('.') || '(root)').join(', ');
        throw new PartError(`${type}: the value does not match the schema (at ${paths})`, parsed.error.issues);
      }
      return jsonPart(value, { ...init, type });
    },
    is,
    read(p) {
      if (!is(p)) throw new PartError(`${type}: expected a part of mimetype ${mimetype}, got ${p.mimetype}`);
      return readJSON(p, schema);
    },
  };
}

/** A part on the 'status' substream (progress, usage): bypasses processors to the output. */
export function statusPart(text: string, init?: PartInit): Part {
  return part(text, { ...init, substream: init?.substream ?? 'status' });
}

/** A part on the 'debug' substream: bypasses processors to the output. */
export function debugPart(text: string, init?: PartInit): Part {
  return part(text, { ...init, substream: init?.substream ?? 'debug' });
}

/** A part carrying an error, as `catchErrors` emits it: text `<name>: <message>`, metadata { name, message }. */
export function exceptionPart(error: unknown, init?: PartInit): Part {
  const name = error instanceof Error ? error.name : 'Error';
  const message = error instanceof Error ? error.message : String(error);
  return part(`${name}: ${message}`, {
    ...init,
    mimetype: EXCEPTION_MIMETYPE,
    metadata: { ...init?.metadata, name, message },
  });
}

/** True for the reserved substreams 'status', 'debug', 'ui' and their '/'-children. */
export function isReservedSubstream(substream: string): boolean {
  if (substream === '') return false;
  return (
    substream === 'status' ||
    substream === 'debug' ||
    substream === 'ui' ||
    substream.startsWith('status/') ||
    substream.startsWith('debug/') ||
    substream.startsWith('ui/')
  );
}

/** Concatenated text of the parts on one substream ('' by default). */
export function asText(parts: Iterable<Part>, options: { substream?: string } = {}): string {
  const substream = options.substream ?? '';
  let out = '';
  for (const p of parts) if (p.substream === substream && p.text !== undefined) out += p.text;
  return out;
}

/** A part's content is not what a schema expects. `issues` holds the zod issues. */
export class PartError extends SluiceError {
  override name = 'PartError';
  declare readonly code: 'E_PART';
  readonly issues: z.core.$ZodIssue[];
  constructor(message: string, issues: z.core.$ZodIssue[] = [], options?: ErrorOptions) {
    super('E_PART', message, options?.cause === undefined ? {} : { cause: options.cause });
    this.issues = issues;
  }
}

/** Parses a JSON part and validates it with `schema`; throws `PartError` naming the mimetype and failing paths. */
export function readJSON<T>(p: Part, schema: z.ZodType<T>): T {
  const text = p.text ?? (p.data ? decoder.decode(p.data) : undefined);
  if (text === undefined) throw new PartError(`readJSON: the ${p.mimetype} part has no text or data to parse`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const quoted = text.length > 120 ? `${text.slice(0, 120)}...` : text;
    throw new PartError(`readJSON: the ${p.mimetype} part is not valid JSON: ${JSON.stringify(quoted)}`, [], {
      cause: error,
    });
  }
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const where = result.error.issues
    .map((issue) => `${issue.path.length ? issue.path.join('.') : '(root)'}: ${issue.message}`)
    .join('; ');
  throw new PartError(`readJSON: the ${p.mimetype} part does not match the schema: ${where}`, result.error.issues);
}

/** The wire form of a part (data as base64), used by SSE, NDJSON and websockets. */
export const PartSchema = z.object({
  mimetype: z.string().min(1),
  text: z.string().optional(),
  data: z.string().optional(),
  role: z.string().default(''),
  substream: z.string().default(''),
  metadata: z.record(z.string(), z.unknown()).default({}),
  toolCall: z.object({ id: z.string(), name: z.string(), args: z.unknown() }).optional(),
  toolResult: z
    .object({ id: z.string(), name: z.string(), result: z.unknown(), isError: z.boolean().optional() })
    .optional(),
});
export type PartJSON = z.input<typeof PartSchema>;

/** A part's wire form: a plain JSON-safe object, data as base64. */
export function toJSON(p: Part): PartJSON {
  const out: PartJSON = { mimetype: p.mimetype, role: p.role, substream: p.substream, metadata: { ...p.metadata } };
  if (p.text !== undefined) out.text = p.text;
  if (p.data !== undefined) out.data = toBase64(p.data);
  if (p.toolCall) out.toolCall = { ...p.toolCall };
  if (p.toolResult) out.toolResult = { ...p.toolResult };
  return out;
}

/** Rebuilds a part from its wire form; throws `PartError` when it is not one. */
export function fromJSON(json: unknown): Part {
  const result = PartSchema.safeParse(json);
  if (!result.success) {
    const where = result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new PartError(`fromJSON: not a part: ${where}`, result.error.issues);
  }
  const { data, text, mimetype, ...rest } = result.data;
  const init: PartInit = { ...rest, mimetype };
  if (text !== undefined) init.text = text;
  if (data !== undefined) init.data = fromBase64(data);
  return part(text ?? init.data ?? '', init);
}
