// Recognising the JSON parts the weights processors take as input, without throwing on anything else.

import type { Part } from '@sluice/core';

/** The `type=` parameter of a JSON part ('' when it has none), or undefined for a part that is not JSON. */
export function jsonTypeOf(mimetype: string): string | undefined {
  const [essence, ...params] = mimetype.split(';').map((s) => s.trim());
  if (essence.toLowerCase() !== 'application/json') return undefined;
  for (const param of params) {
    const [key, value] = param.split('=').map((s) => s.trim());
    if (key.toLowerCase() === 'type') return (value ?? '').replace(/^"(.*)"$/, '$1');
  }
  return '';
}

/** The JSON object a part carries, or undefined when it carries no JSON object. */
export function jsonObjectOf(part: Part): Record<string, unknown> | undefined {
  if (part.text === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(part.text);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}
