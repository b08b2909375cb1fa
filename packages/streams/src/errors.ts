// The error dialect every Sluice package speaks: a stable string `code`, a message that says what
// was expected, what was found and what to do, and a `hint` where there is advice. Errors also have
// a plain-object form (`errorToJSON`) and back (`errorFromJSON`), so `name`, `message`, `code` and
// `hint` survive a process boundary (workers, queues, SSE).

/** The plain-object form of an error: JSON-safe, and read back by `errorFromJSON`. */
export interface ErrorJSON {
  name: string;
  message: string;
  /** The stable Sluice code, e.g. 'E_TIMEOUT'; absent for errors that are not ours and carry none. */
  code?: string;
  hint?: string;
  stack?: string;
  /** Other own fields that are strings, numbers or booleans (status, providerCode, requestId, ...). */
  data?: Record<string, string | number | boolean>;
}

/**
 * Base class of the errors Sluice throws on purpose. `code` is stable and safe to switch on; `hint`
 * says what to do. Subclasses set `name` to their class name.
 */
export class SluiceError extends Error {
  override name = 'SluiceError';
  readonly code: string;
  readonly hint: string | undefined;
  constructor(code: string, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.hint = options.hint;
  }

  /** The plain-object form (`JSON.stringify` uses it too). */
  toJSON(): ErrorJSON {
    return errorToJSON(this);
  }
}

const BASE_FIELDS = new Set(['name', 'message', 'code', 'hint', 'stack', 'cause']);

/**
 * The plain-object form of any thrown value: `name`, `message`, `code` and `hint` when present, the
 * stack, and other own primitive fields under `data`. A non-Error becomes `{ name: 'Error', message }`.
 */
export function errorToJSON(error: unknown): ErrorJSON {
  if (!(error instanceof Error)) {
    return { name: 'Error', message: typeof error === 'string' ? error : safeString(error) };
  }
  const out: ErrorJSON = { name: error.name, message: error.message };
  const fields = error as unknown as Record<string, unknown>;
  if (typeof fields.code === 'string') out.code = fields.code;
  else if (typeof fields.code === 'number') out.code = String(fields.code);
  if (typeof fields.hint === 'string') out.hint = fields.hint;
  if (typeof error.stack === 'string') out.stack = error.stack;
  let data: Record<string, string | number | boolean> | undefined;
  for (const key of Object.keys(error)) {
    if (BASE_FIELDS.has(key)) continue;
    const value = fields[key];
    if (
      typeof value === 'string' ||
      typeof value === 'boolean' ||
      (typeof value === 'number' && Number.isFinite(value))
    ) {
      data ??= {};
      data[key] = value;
    }
  }
  if (data) out.data = data;
  return out;
}

/** What `errorFromJSON` returns: an `Error` with the original's name, message, code and hint. */
export type RevivedError = Error & {
  readonly code?: string;
  readonly hint?: string;
  readonly [field: string]: unknown;
};

/**
 * An error rebuilt from `errorToJSON`'s form: an `Error` whose `name`, `message`, `code`, `hint` and
 * stack are the original's (`code` stays absent when the original had none), with the `data`
 * fields set as own properties. Throws `TypeError` when `json` has no string `name` and `message`.
 */
export function errorFromJSON(json: ErrorJSON): RevivedError {
  if (json === null || typeof json !== 'object' || typeof json.name !== 'string' || typeof json.message !== 'string') {
    throw new TypeError(
      'errorFromJSON: expected an object with string name and message (the form errorToJSON returns)',
    );
  }
  const error = new Error(json.message) as Error & Record<string, unknown>;
  error.name = json.name;
  if (json.stack !== undefined) error.stack = json.stack;
  if (json.data) {
    for (const [key, value] of Object.entries(json.data)) if (!BASE_FIELDS.has(key)) error[key] = value;
  }
  if (json.code !== undefined) error.code = json.code;
  if (json.hint !== undefined) error.hint = json.hint;
  return error as RevivedError;
}

function safeString(value: unknown): string {
  try {
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}
