// Counts the characters `String.prototype.indexOf` searches in long strings while `run` runs: a
// measure of work, not of time, that tells a decoder which searches only its new text (about one
// pass over the input) from one which searches its whole buffer again on every chunk (quadratic).

/** Strings shorter than this are not counted (the test runner's own strings, short lines). */
const LONG = 64 * 1024;

export async function charactersSearched(run: () => Promise<void>): Promise<number> {
  const original = String.prototype.indexOf;
  let searched = 0;
  // Wrapping a built-in for the duration of one call; the wrapper has indexOf's own signature.
  const counting: typeof String.prototype.indexOf = function indexOf(this: string, search: string, from?: number) {
    if (this.length >= LONG) searched += this.length - Math.max(0, Math.min(this.length, from ?? 0));
    return original.call(this, search, from);
  };
  String.prototype.indexOf = counting;
  try {
    await run();
  } finally {
    String.prototype.indexOf = original;
  }
  return searched;
}

/** `text` cut into `size`-byte chunks of UTF-8. */
export function byteChunks(text: string, size: number): Uint8Array[] {
  const bytes = new TextEncoder().encode(text);
  const out: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.subarray(i, i + size));
  return out;
}

/** `length` characters of base64 (deterministic). */
export function base64Text(length: number): string {
  const raw = Buffer.alloc(Math.ceil((length * 3) / 4));
  for (let i = 0; i < raw.length; i++) raw[i] = (i * 2654435761) >>> 24;
  return raw.toString('base64').slice(0, length);
}

/** mulberry32: a small deterministic PRNG. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `text` cut at random points into string chunks of 1 to `max` characters. */
export function randomCuts(text: string, random: () => number, max: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; ) {
    const n = 1 + Math.floor(random() * max);
    out.push(text.slice(i, i + n));
    i += n;
  }
  return out;
}
