import { type Part, type Processor, processor, textPart } from '@sluice/core';

/** Options of `sentences`. */
export interface SentencesOptions {
  /** Locale for sentence boundaries (Intl.Segmenter); default 'en'. */
  locale?: string;
  /** The substream whose text/plain parts are regrouped; default '' (others pass through). */
  substream?: string;
}

// Intl.Segmenter breaks after these; a sentence does not end there.
const abbreviation =
  /(?:^|[\s(])(?:Mr|Mrs|Ms|Dr|Prof|Sr|Jr|St|Mt|vs|etc|e\.g|i\.e|cf|approx|Inc|Ltd|Co|No|Fig|Vol|p|pp)\.\s*$/i;

/**
 * Regroups streamed text into sentences: text/plain parts of one substream
 * and role are buffered and re-emitted one part per complete sentence
 * (Intl.Segmenter rules, plus common abbreviations), as soon as the next
 * sentence has started; the rest is emitted at the end. Concatenated output
 * text equals the input text. Other parts pass through in order (pending text
 * is flushed before them). Stopping stops the upstream at once.
 */
export function sentences(options: SentencesOptions = {}): Processor {
  const segmenter = new Intl.Segmenter(options.locale ?? 'en', { granularity: 'sentence' });
  const substream = options.substream ?? '';
  const matches = (part: Part) => part.substream === substream && part.mimetype === 'text/plain';

  const split = (text: string): string[] => {
    const merged: string[] = [];
    for (const { segment } of segmenter.segment(text)) {
      const last = merged.length - 1;
      if (last >= 0 && (segment.trim() === '' || abbreviation.test(merged[last]!))) merged[last] += segment;
      else merged.push(segment);
    }
    return merged;
  };

  return processor(
    async function* sentenceSplitter(input) {
      let buffer = '';
      let head: Part | undefined;
      const make = (text: string) => textPart(text, { role: head?.role, substream, metadata: head?.metadata });
      for await (const part of input) {
        if (!matches(part) || (head && part.role !== head.role)) {
          if (head && buffer !== '') yield make(buffer);
          buffer = '';
          head = undefined;
          if (!matches(part)) {
            yield part;
            continue;
          }
        }
        head ??= part;
        buffer += part.text ?? '';
        const pieces = split(buffer);
        for (let i = 0; i < pieces.length - 1; i++) yield make(pieces[i]!);
        buffer = pieces.at(-1) ?? '';
      }
      if (head && buffer !== '') yield make(buffer);
    },
    { name: 'sentences' },
  );
}
