// Document summaries (as AbstractCore's Summarizer): a document part (text, Markdown, PDF) is
// read as text, split into chunks that fit the model's context, the chunks summarized
// concurrently, and their summaries combined into one final summary that streams out.

import { type Context, type Part, type Processor, partProcessor, textPart } from '@sluice/core';
import { SluiceError } from '@sluice/streams';
import { splitIntoTokens } from '../models/tokens.ts';

/** How the summary is written. */
export type SummaryStyle = 'executive' | 'bullet' | 'narrative' | 'structured' | 'technical' | 'conversational';
/** How long the summary is. */
export type SummaryLength = 'brief' | 'standard' | 'detailed';

/** Options of `summarize`. */
export interface SummarizeOptions {
  /** The model processor that writes the summaries (any model: openai(), llamaCpp(), fakeModel()). */
  model: Processor;
  /** Default 'executive'. */
  style?: SummaryStyle;
  /** Default 'standard'. */
  length?: SummaryLength;
  /** Words of document per model call (keep it well under the model's context); default 3000. */
  chunkWords?: number;
  /** Chunk summaries made at once; default 4. */
  concurrency?: number;
  /** Documents summarized at once (the part processor's concurrency); default 4. */
  documents?: number;
}

/** A document part could not be read (a PDF that is not one, an empty document). */
export class DocumentError extends SluiceError {
  override name = 'DocumentError';
  declare readonly code: 'E_DOCUMENT';
  declare readonly hint: string;
  constructor(message: string, hint: string, cause?: unknown) {
    super('E_DOCUMENT', `${message}; ${hint}`, { hint, cause });
  }
}

const STYLES: Record<SummaryStyle, string> = {
  executive: 'an executive summary: the main point first, then the decisions and figures that matter',
  bullet: 'a bulleted list of the key points, one line each',
  narrative: 'flowing prose that tells what the document says, in order',
  structured: 'short sections with headings: purpose, key points, conclusions',
  technical: 'a precise technical summary keeping names, numbers and definitions',
  conversational: 'a plain, friendly explanation, as to a colleague',
};

const LENGTHS: Record<SummaryLength, string> = {
  brief: 'at most 50 words',
  standard: 'about 150 words',
  detailed: 'about 400 words',
};

/** Whether a part is a document `summarize` reads: text, Markdown or PDF on the default substream. */
export function isDocumentPart(part: Part): boolean {
  if (part.substream !== '') return false;
  return (
    part.mimetype === 'application/pdf' ||
    part.mimetype.startsWith('text/plain') ||
    part.mimetype.startsWith('text/markdown')
  );
}

/** The text of a document part (PDF through unpdf, imported on first use). */
export async function documentText(part: Part): Promise<string> {
  if (part.mimetype !== 'application/pdf') return part.text ?? new TextDecoder().decode(part.data);
  const { extractText, getDocumentProxy } = await import('unpdf');
  try {
    const pdf = await getDocumentProxy(new Uint8Array(part.data ?? new Uint8Array()));
    const { text } = await extractText(pdf, { mergePages: true });
    return text;
  } catch (error) {
    throw new DocumentError(
      `summarize: could not read the PDF (${(error as Error).message})`,
      'send a valid PDF, or its text as a text part',
      error,
    );
  }
}

/** Splits `text` into chunks of at most about `words` words, at paragraph ends where it can. Pure. */
export function chunkDocument(text: string, words: number): string[] {
  const chunks: string[] = [];
  let current: string[] = [];
  let size = 0;
  const flush = () => {
    if (current.length > 0) chunks.push(current.join('\n\n'));
    current = [];
    size = 0;
  };
  for (const paragraph of text.split(/\n\s*\n/)) {
    const tokens = splitIntoTokens(paragraph.trim());
    if (tokens.length === 0) continue;
    if (size + tokens.length > words) flush();
    // A paragraph longer than a chunk is cut at word boundaries.
    for (let i = 0; i < tokens.length; i += words) {
      const piece = tokens.slice(i, i + words);
      if (piece.length === words) {
        flush();
        chunks.push(piece.join('').trim());
      } else {
        current.push(piece.join('').trim());
        size += piece.length;
      }
    }
  }
  flush();
  return chunks;
}

function instruction(style: SummaryStyle, length: SummaryLength, what: string): string {
  return `Summarize ${what} as ${STYLES[style]}, in ${LENGTHS[length]}. Answer with the summary only.`;
}

async function modelText(model: Processor, parts: Part[], signal: AbortSignal): Promise<string> {
  let text = '';
  for await (const p of model(parts, { signal })) if (p.substream === '' && p.text !== undefined) text += p.text;
  return text.trim();
}

/**
 * Summarizes each document part of the input (text, Markdown, PDF; other parts pass through in
 * their place), up to `documents` at once, outputs in input order. A document longer than
 * `chunkWords` is split; its chunks are summarized by `model` up to `concurrency` at once, then
 * combined by one last call whose parts (text, status with usage) stream out as they come. A
 * document that cannot be read fails the run with DocumentError; stopping stops every model call.
 */
export function summarize(options: SummarizeOptions): Processor {
  const { model } = options;
  if (typeof model !== 'function')
    throw new TypeError(
      'summarize: the model option is required, e.g. summarize({ model: openai({ model: "gpt-4o-mini" }) })',
    );
  const style = options.style ?? 'executive';
  const length = options.length ?? 'standard';
  if (!(style in STYLES))
    throw new RangeError(`summarize: style must be one of ${Object.keys(STYLES).join(', ')}, found ${style}`);
  if (!(length in LENGTHS))
    throw new RangeError(`summarize: length must be one of ${Object.keys(LENGTHS).join(', ')}, found ${length}`);
  const chunkWords = options.chunkWords ?? 3000;
  const concurrency = options.concurrency ?? 4;
  for (const [key, value] of [
    ['chunkWords', chunkWords],
    ['concurrency', concurrency],
  ] as const) {
    if (!(Number.isInteger(value) && value >= 1))
      throw new RangeError(`summarize: ${key} must be a positive integer, found ${value}`);
  }
  return partProcessor(
    async function* summarizeDocument(part: Part, ctx: Context) {
      const text = (await documentText(part)).trim();
      if (text === '')
        throw new DocumentError(
          'summarize: the document has no text',
          'send a document with text (a scanned PDF needs OCR first)',
        );
      const chunks = chunkDocument(text, chunkWords);
      let material = text;
      if (chunks.length > 1) {
        ctx.status(`summarize: ${chunks.length} chunks, ${Math.min(concurrency, chunks.length)} at a time`, {
          metadata: { chunks: chunks.length },
        });
        const summaries: string[] = new Array(chunks.length);
        let next = 0;
        const worker = async () => {
          while (next < chunks.length) {
            const i = next++;
            summaries[i] = await modelText(
              model,
              [
                textPart(instruction(style, length, `part ${i + 1} of ${chunks.length} of a document`), {
                  role: 'system',
                }),
                textPart(chunks[i]!, { role: 'user' }),
              ],
              ctx.signal,
            );
          }
        };
        await Promise.all(Array.from({ length: Math.min(concurrency, chunks.length) }, worker));
        material = summaries.map((s, i) => `Part ${i + 1}:\n${s}`).join('\n\n');
      }
      const what =
        chunks.length > 1
          ? 'these summaries of the parts of one document, as one summary of the whole'
          : 'this document';
      yield* model(
        [textPart(instruction(style, length, what), { role: 'system' }), textPart(material, { role: 'user' })],
        { signal: ctx.signal },
      );
    },
    { name: 'summarize', match: isDocumentPart, concurrency: options.documents ?? 4 },
  );
}
