/**
 * Splits text into word-like tokens the way model tokenizers stream them:
 * each token is a run of non-space characters with the whitespace that
 * precedes it ("Hello world" -> ["Hello", " world"]). Joining the tokens
 * gives the text back exactly; an empty string gives no tokens.
 */
export function splitIntoTokens(text: string): string[] {
  return text.match(/\s*\S+|\s+$/gu) ?? [];
}

/** Splits a string into pieces of at most `size` UTF-16 units (for argument fragments of streamed tool calls). */
export function splitIntoPieces(text: string, size: number): string[] {
  if (text.length === 0) return [''];
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}
