import { asText, type Part, part, processor, statusPart, textPart } from '@sluice/core';
import { describe, expect, it } from 'vitest';
import { chunkDocument, DocumentError, fakeModel, summarize } from '../src/index.ts';

/** A one-page PDF whose page shows `text` (Helvetica), with a correct xref table. */
function tinyPDF(text: string): Uint8Array {
  const stream = `BT /F1 18 Tf 40 700 Td (${text}) Tj ET`;
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>',
    `<< /Length ${stream.length} >>\nstream\n${stream}\nendstream`,
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
  ];
  let out = '%PDF-1.4\n';
  const offsets: number[] = [];
  for (const [i, body] of objects.entries()) {
    offsets.push(out.length);
    out += `${i + 1} 0 obj\n${body}\nendobj\n`;
  }
  const xref = out.length;
  out += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const offset of offsets) out += `${String(offset).padStart(10, '0')} 00000 n \n`;
  out += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return new TextEncoder().encode(out);
}

/** A model that answers with the first words of its user text, counting calls in flight. */
function recordingModel() {
  const calls: { system: string; user: string }[] = [];
  let inFlight = 0;
  let most = 0;
  const model = processor(async function* recording(input) {
    const parts: Part[] = await input.gather();
    inFlight++;
    most = Math.max(most, inFlight);
    try {
      await new Promise((resolve) => setTimeout(resolve, 5));
      const system = asText(parts.filter((p) => p.role === 'system'));
      const user = asText(parts.filter((p) => p.role === 'user'));
      calls.push({ system, user });
      yield textPart(`[${user.split(/\s+/).slice(0, 3).join(' ')}]`, { role: 'model' });
      yield statusPart('done', { metadata: { finishReason: 'stop', usage: { inputTokens: 1, outputTokens: 1 } } });
    } finally {
      inFlight--;
    }
  });
  return { model, calls, most: () => most };
}

describe('summarize', () => {
  it('summarizes a short text in one call, with the style and length in the instruction', async () => {
    const { model, calls } = recordingModel();
    const out = await summarize({ model, style: 'bullet', length: 'brief' })([
      textPart('Sluices control water flow.'),
    ]).gather();
    expect(out.map((p) => p.text)).toEqual(['[Sluices control water]', 'done']);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.system).toContain('bulleted list');
    expect(calls[0]!.system).toContain('at most 50 words');
  });

  it('splits a long document, summarizes the chunks concurrently (bounded), then combines them', async () => {
    const { model, calls, most } = recordingModel();
    const paragraphs = Array.from({ length: 10 }, (_, i) => `Paragraph${i} ${'word '.repeat(29)}`.trim());
    const out = await summarize({ model, chunkWords: 60, concurrency: 2 })([
      textPart(paragraphs.join('\n\n')),
    ]).gather();
    // 10 paragraphs of 30 words in chunks of 60 words: 5 chunk calls and the final one.
    expect(calls).toHaveLength(6);
    expect(most()).toBe(2);
    const final = calls.at(-1)!;
    expect(final.system).toContain('summaries of the parts');
    expect(final.user.split('\n\n')).toHaveLength(5);
    expect(final.user).toContain('Part 1:\n[Paragraph0 word word]');
    expect(out.map((p) => p.substream)).toEqual(['status', '', 'status']);
    expect(out[0]!.metadata).toEqual({ chunks: 5 });
  });

  it('reads PDFs through unpdf', async () => {
    const { model, calls } = recordingModel();
    await summarize({ model })([
      part(tinyPDF('Quarterly water levels rose'), { mimetype: 'application/pdf' }),
    ]).gather();
    expect(calls[0]!.user).toContain('Quarterly water levels rose');
  });

  it('summarizes several documents, outputs in input order, and passes other parts through', async () => {
    const model = fakeModel({ reply: (input) => [`S(${asText(input.filter((p) => p.role === 'user')).slice(0, 3)})`] });
    const image = part(new Uint8Array([1]), { mimetype: 'image/png' });
    const out = await summarize({ model })([
      textPart('one'),
      image,
      part('# two', { mimetype: 'text/markdown' }),
    ]).gather();
    expect(out.filter((p) => p.substream === '').map((p) => p.text ?? p.mimetype)).toEqual([
      'S(one)',
      'image/png',
      'S(# t)',
    ]);
  });

  it('fails with DocumentError on a broken PDF or an empty document', async () => {
    const { model } = recordingModel();
    const broken = part(new TextEncoder().encode('not a pdf'), { mimetype: 'application/pdf' });
    await expect(summarize({ model })([broken]).gather()).rejects.toBeInstanceOf(DocumentError);
    await expect(summarize({ model })([textPart('   ')]).gather()).rejects.toMatchObject({ code: 'E_DOCUMENT' });
  });

  it('chunks at paragraph ends, cutting only paragraphs longer than a chunk', () => {
    expect(chunkDocument('a b\n\nc d\n\ne f', 4)).toEqual(['a b\n\nc d', 'e f']);
    expect(chunkDocument('a b c d e', 2)).toEqual(['a b', 'c d', 'e']);
  });
});
