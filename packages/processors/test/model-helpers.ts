// Shared test helpers: byte splitting, decoding a wire stream with the real
// framing and decoders, and a bounded wait that fails loudly instead of hanging.

import type { Part } from '@sluice/core';
import type { ModelEvent, StreamDecoder } from '../src/models/events.ts';
import type { ModelOptions } from '../src/models/options.ts';
import type { ModelCall } from '../src/models/run.ts';
import { ndjsonFrames, sseFrames } from '../src/models/run.ts';
import { anthropicCall, anthropicDecoder } from '../src/models/wire/anthropic.ts';
import { geminiCall, geminiDecoder } from '../src/models/wire/gemini.ts';
import { ollamaCall, ollamaDecoder } from '../src/models/wire/ollama.ts';
import { openAICall, openAIDecoder } from '../src/models/wire/openai.ts';
import type { FakeProvider } from '../src/testing/wire.ts';

export const decoders: Record<FakeProvider, () => StreamDecoder> = {
  openai: openAIDecoder,
  anthropic: anthropicDecoder,
  ollama: ollamaDecoder,
  gemini: geminiDecoder,
};

/** Yields the given chunks, one per turn of the event loop's microtask queue. */
export async function* fromChunks(chunks: readonly Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const chunk of chunks) yield chunk;
}

/** Splits `bytes` at the given offsets. */
export function splitAt(bytes: Uint8Array, offsets: readonly number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let start = 0;
  for (const offset of [...offsets, bytes.length]) {
    out.push(bytes.subarray(start, offset));
    start = offset;
  }
  return out;
}

/**
 * Runs the wire bytes through the provider's framing and decoder as `runModel` does (a `[DONE]`
 * terminator is reported to `end`); error events are returned, not thrown.
 */
export async function decodeWire(provider: FakeProvider, chunks: readonly Uint8Array[]): Promise<ModelEvent[]> {
  const decoder = decoders[provider]();
  const frames =
    provider === 'ollama' ? ndjsonFrames(fromChunks(chunks), provider) : sseFrames(fromChunks(chunks), provider);
  const events: ModelEvent[] = [];
  let terminated = false;
  for await (const frame of frames) {
    if (frame.terminator) terminated = true;
    else events.push(...decoder.push(frame.value, frame.event));
  }
  events.push(...decoder.end({ terminated }));
  return events;
}

/** The text of all events of one type, concatenated. */
export function joined(events: readonly ModelEvent[], type: 'text' | 'reasoning'): string {
  return events
    .filter((event): event is Extract<ModelEvent, { type: 'text' | 'reasoning' }> => event.type === type)
    .map((event) => event.text)
    .join('');
}

// Captured at load, so `within` keeps real time while a test fakes the timers.
const realSetTimeout = globalThis.setTimeout;
const realClearTimeout = globalThis.clearTimeout;

/** Resolves with `promise`, or rejects if it takes longer than `ms` (a real timer, cleared either way). */
export async function within<T>(promise: Promise<T>, ms: number, what = 'the operation'): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = realSetTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    realClearTimeout(timer);
  }
}

/** Collects what an async iterable yields, and the error it threw (if any). */
export async function drain<T>(source: AsyncIterable<T>): Promise<{ items: T[]; error: unknown }> {
  const items: T[] = [];
  try {
    for await (const item of source) items.push(item);
    return { items, error: undefined };
  } catch (error) {
    return { items, error };
  }
}

export const calls: Record<FakeProvider, (parts: readonly Part[], options: ModelOptions) => ModelCall> = {
  openai: openAICall,
  anthropic: anthropicCall,
  ollama: ollamaCall,
  gemini: geminiCall,
};

/** A plain user text part (the same shape core's textPart makes). */
export function userText(text: string): Part {
  return Object.freeze({ mimetype: 'text/plain', text, role: 'user', substream: '', metadata: {} }) as Part;
}
