// sentences(): streamed tokens regrouped into one part per sentence, each
// emitted as soon as the next sentence starts, losslessly.

import { part, processor, textPart } from '@sluice/core';
import { describe, expect, it } from 'vitest';
import { splitIntoTokens } from '../src/models/tokens.ts';
import { sentences } from '../src/text/sentences.ts';

const model = (text: string) => splitIntoTokens(text).map((t) => textPart(t, { role: 'model' }));
const run = async (text: string) => (await sentences()(model(text)).gather()).map((p) => p.text);

describe('sentences', () => {
  it('regroups word tokens into sentences and keeps the text exactly', async () => {
    const text = 'Hello there. How are you? I am fine! Thanks.';
    const out = await run(text);
    expect(out).toEqual(['Hello there. ', 'How are you? ', 'I am fine! ', 'Thanks.']);
    expect(out.join('')).toBe(text);
  });

  it('does not split on abbreviations, decimals or ellipses inside a sentence', async () => {
    expect(await run('Dr. Smith paid 3.50 dollars, e.g. for tea. Then he left.')).toEqual([
      'Dr. Smith paid 3.50 dollars, e.g. for tea. ',
      'Then he left.',
    ]);
  });

  it('breaks at line breaks and keeps blank lines with the sentence before them', async () => {
    expect(await run('Item one\nItem two\n\nNext part.')).toEqual(['Item one\n', 'Item two\n\n', 'Next part.']);
  });

  it('handles CJK punctuation without spaces', async () => {
    const parts = await sentences({ locale: 'zh' })(['你好', '。世界', '！再见']).gather();
    expect(parts.map((p) => p.text)).toEqual(['你好。', '世界！', '再见']);
  });

  it('keeps role and metadata of the first part of a sentence', async () => {
    const [first] = await sentences()([
      textPart('Hi. ', { role: 'model', metadata: { n: 1 } }),
      textPart('Yo', { role: 'model' }),
    ]).gather();
    expect(first).toMatchObject({ text: 'Hi. ', role: 'model', metadata: { n: 1 } });
  });

  it('emits a sentence as soon as the next one starts, before the input ends', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const source = processor(async function* slowTokens() {
      yield textPart('First one.', { role: 'model' });
      yield textPart(' Sec', { role: 'model' });
      await gate;
      yield textPart('ond.', { role: 'model' });
    });
    const iterator = source.pipe(sentences())('x')[Symbol.asyncIterator]();
    expect((await iterator.next()).value?.text).toBe('First one. ');
    release();
    expect((await iterator.next()).value?.text).toBe('Second.');
    expect((await iterator.next()).done).toBe(true);
  });

  it('flushes pending text before a non-text part and passes it through in order', async () => {
    const tool = part(new Uint8Array([1]), { mimetype: 'image/png' });
    const out = await sentences()([textPart('Half a sen'), tool, textPart('tence. Next')]).gather();
    expect(out.map((p) => p.text ?? p.mimetype)).toEqual(['Half a sen', 'image/png', 'tence. ', 'Next']);
  });

  it('leaves other substreams alone', async () => {
    const out = await sentences()([textPart('think. think.', { substream: 'reasoning' }), textPart('A. B.')]).gather();
    expect(out.map((p) => [p.substream, p.text])).toEqual([
      ['reasoning', 'think. think.'],
      ['', 'A. '],
      ['', 'B.'],
    ]);
  });
});
