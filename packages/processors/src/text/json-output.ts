import { jsonPart, type Part, type Processor, processor } from '@sluice/core';
import { SluiceError } from '@sluice/streams';
import type { z } from 'zod';

/** Options of `jsonOutput`. */
export interface JSONOutputOptions {
  /** Mimetype parameter of the output part: 'application/json; type=<type>'. */
  type?: string;
  /** Role of the output part; default 'model'. */
  role?: string;
}

/** The model's output was not valid JSON, or did not match the schema. */
export class JSONOutputError extends SluiceError {
  override name = 'JSONOutputError';
  declare readonly code: 'E_JSON_OUTPUT';
  /** The text that was parsed. */
  readonly output: string;
  /** The zod issues when the JSON did not match the schema; empty when it was not JSON. */
  readonly issues: readonly z.core.$ZodIssue[];
  constructor(message: string, output: string, issues: readonly z.core.$ZodIssue[] = [], cause?: unknown) {
    super('E_JSON_OUTPUT', message, cause === undefined ? {} : { cause });
    this.output = output;
    this.issues = issues;
  }
}

function quote(text: string): string {
  return JSON.stringify(text.length > 300 ? `${text.slice(0, 300)}...` : text);
}

/**
 * The JSON text inside a model answer: the first fenced block if there is
 * one, else the text from the first `{`/`[` to the last matching closer. Pure;
 * never throws (the caller's JSON.parse reports bad JSON).
 */
export function extractJSON(text: string): string {
  const fenced = /```[\w+-]*[^\S\n]*\n?([\s\S]*?)```/.exec(text);
  const body = (fenced?.[1] ?? text).trim();
  if (body.startsWith('{') || body.startsWith('[')) return body;
  const start = body.search(/[[{]/);
  if (start === -1) return body;
  const close = body[start] === '{' ? '}' : ']';
  const end = body.lastIndexOf(close);
  return end > start ? body.slice(start, end + 1) : body.slice(start);
}

/**
 * Parses the model's text (default substream) as JSON, tolerating code
 * fences and prose around the value, validates it with `schema`, and emits
 * one `jsonPart` of the parsed value after the input ends. Other parts pass
 * through as they arrive. Invalid JSON or a schema mismatch fails the run with
 * `JSONOutputError` quoting the output (and naming the failing fields).
 */
export function jsonOutput<T>(schema: z.ZodType<T>, options: JSONOutputOptions = {}): Processor {
  return processor(
    async function* parseJSONOutput(input) {
      let text = '';
      let seen = false;
      for await (const part of input) {
        if (part.substream === '' && part.mimetype === 'text/plain') {
          text += part.text ?? '';
          seen = true;
        } else {
          yield part;
        }
      }
      if (!seen) throw new JSONOutputError('jsonOutput: the input had no text to parse; put it after a model', '');
      const candidate = extractJSON(text);
      let value: unknown;
      try {
        value = JSON.parse(candidate);
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        throw new JSONOutputError(
          `jsonOutput: the model output is not valid JSON (${reason}): ${quote(text)}; ask the model for JSON only, or lower the temperature`,
          text,
          [],
          error,
        );
      }
      const result = schema.safeParse(value);
      if (!result.success) {
        const where = result.error.issues
          .map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : '(root)'}: ${issue.message}`)
          .join('; ');
        throw new JSONOutputError(
          `jsonOutput: the model output does not match the schema (${where}): ${quote(candidate)}`,
          text,
          result.error.issues,
        );
      }
      yield jsonPart(result.data, { role: options.role ?? 'model', type: options.type }) as Part;
    },
    { name: 'jsonOutput' },
  );
}
