import type { AsyncIterableX } from '@reactivex/ix-esnext-esm/Ix.asynciterable';
import { fromIterator } from './iterable.ts';

/**
 * Decodes UTF-8 bytes into strings; a character split across chunks comes out whole.
 * Yields no empty strings. Errors and early stops pass straight through to the source.
 */
export function decodeText(bytes: AsyncIterable<Uint8Array | string>): AsyncIterableX<string> {
  return fromIterator(() => decodeTextGenerator(bytes));
}

async function* decodeTextGenerator(bytes: AsyncIterable<Uint8Array | string>): AsyncGenerator<string> {
  const decoder = new TextDecoder('utf-8');
  for await (const chunk of bytes) {
    const text = typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    if (text.length > 0) yield text;
  }
  const tail = decoder.decode();
  if (tail.length > 0) yield tail;
}
