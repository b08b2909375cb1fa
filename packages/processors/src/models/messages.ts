// Input parts -> a provider-neutral conversation: roles mapped ('' and 'user'
// are the user, 'model' the assistant, 'system' the system prompt, 'tool' the
// tool results), consecutive parts of one role grouped into one turn.

import type { Part } from '@sluice/core';
import { SluiceError } from '@sluice/streams';
import { z } from 'zod';

/** One turn of the conversation; its parts keep their order. */
export interface Turn {
  role: 'user' | 'assistant' | 'tool';
  parts: Part[];
}

/** The conversation a model processor sends. */
export interface Conversation {
  /** System prompt: the `system` option first, then the text of 'system' parts. */
  system: string | undefined;
  turns: Turn[];
}

/** A tool the model may call. `parameters` is a JSON Schema object or a zod schema. */
export interface ToolSpec {
  name: string;
  description?: string;
  parameters?: Record<string, unknown> | z.ZodType;
}

function roleOf(part: Part): Turn['role'] | 'system' {
  if (part.toolResult) return 'tool';
  switch (part.role) {
    case 'system':
      return 'system';
    case 'model':
    case 'assistant':
      return 'assistant';
    case 'tool':
      return 'tool';
    default:
      return 'user';
  }
}

/**
 * True for the parts of an earlier answer that carry provider state which must go back with the
 * assistant turn: Anthropic thinking signatures and redacted thinking (substream 'reasoning',
 * `metadata.signature` or `metadata.redactedThinking`), server-run tool blocks (substream
 * 'server_tool' with `metadata.block`), and parts carrying a Gemini `metadata.thoughtSignature`.
 * Sessions keep them in their history.
 */
export function isReplayPart(part: Part): boolean {
  const meta = part.metadata;
  if (part.substream === 'reasoning')
    return typeof meta.signature === 'string' || typeof meta.redactedThinking === 'string';
  if (part.substream === 'server_tool') return meta.block !== null && typeof meta.block === 'object';
  return typeof meta.thoughtSignature === 'string';
}

/**
 * Groups input parts into turns. Only parts of the default substream are
 * sent (reasoning and other side streams of earlier answers are not), and
 * empty text parts are dropped; `keep` admits more (a provider's replay parts,
 * see `isReplayPart`), which then reach the encoder even when their text is empty.
 */
export function toConversation(
  parts: readonly Part[],
  system?: string,
  keep: (part: Part) => boolean = () => false,
): Conversation {
  const systemTexts: string[] = system ? [system] : [];
  const turns: Turn[] = [];
  for (const part of parts) {
    const kept = keep(part);
    if (part.substream !== '' && !kept) continue;
    if (part.text === '' && !part.toolCall && !part.toolResult && !kept) continue;
    const role = roleOf(part);
    if (role === 'system') {
      if (part.text !== undefined) systemTexts.push(part.text);
      continue;
    }
    const last = turns.at(-1);
    if (last && last.role === role) last.parts.push(part);
    else turns.push({ role, parts: [part] });
  }
  return { system: systemTexts.length > 0 ? systemTexts.join('\n\n') : undefined, turns };
}

/** The base64 of a binary part's data. */
export function base64Of(part: Part): string {
  return Buffer.from(part.data ?? new Uint8Array()).toString('base64');
}

/** The JSON Schema of a tool's parameters (zod schemas converted; `$schema` dropped). */
export function toolParameters(tool: ToolSpec): Record<string, unknown> {
  const parameters = tool.parameters;
  if (parameters === undefined) return { type: 'object', properties: {} };
  const schema =
    parameters instanceof z.ZodType
      ? (z.toJSONSchema(parameters) as Record<string, unknown>)
      : (parameters as Record<string, unknown>);
  const { $schema: _ignored, ...rest } = schema;
  return rest;
}

/** A tool result as text: strings as they are, anything else as JSON. */
export function resultText(result: unknown): string {
  return typeof result === 'string' ? result : JSON.stringify(result ?? null);
}

/** The error thrown when a part cannot be expressed in a provider's format; `hint` says how to make it sendable. */
export class UnsupportedPartError extends SluiceError {
  override name = 'UnsupportedPartError';
  declare readonly code: 'E_UNSUPPORTED_PART';
  declare readonly hint: string;
  /** `reason` replaces the default "cannot send a part of mimetype ..." explanation; `hint` the default advice. */
  constructor(provider: string, part: Part, options: { reason?: string; hint?: string } = {}) {
    const reason = options.reason ?? `cannot send a part of mimetype '${part.mimetype}' with role '${part.role}'`;
    const hint = options.hint ?? 'send text, images, tool calls or tool results (convert other media first)';
    super('E_UNSUPPORTED_PART', `${provider}: ${reason}; ${hint}`, { hint });
  }
}

/** The error thrown when a model processor is given an option its provider's API cannot honour. */
export class UnsupportedOptionError extends SluiceError {
  override name = 'UnsupportedOptionError';
  declare readonly code: 'E_UNSUPPORTED_OPTION';
  declare readonly hint: string;
  readonly option: string;
  constructor(processor: string, option: string, reason: string, hint?: string) {
    const advice = hint ?? `leave out '${option}', or use a processor whose API has it`;
    super('E_UNSUPPORTED_OPTION', `${processor}: the '${option}' option cannot be sent: ${reason}; ${advice}`, {
      hint: advice,
    });
    this.option = option;
  }
}
