/**
 * Three documents summarized concurrently against a local fake OpenAI server: a plain text, a
 * Markdown file, and a long report that does not fit one call, so it is split into chunks that
 * are summarized concurrently and then combined.
 *
 * Shows: the `summarize({ model, style, length, chunkWords })` processor over document parts
 * (text, Markdown, PDF), documents processed at once with outputs in input order, the status part
 * announcing the chunks, and the `llm.summarize(input, options)` shortcut. No API key or network
 * needed. Run: `pnpm exec tsx examples/summarize.ts`.
 */
import { part, textPart } from '@sluice/core';
import { openai, summarize } from '@sluice/processors';
import { startFakeModelServer } from '@sluice/processors/testing';
import { createLLM } from '@sluice/sdk';

/** Prints one line per event; `log` is replaceable so the test can read the output. */
export async function main(log: (line: string) => void = console.log): Promise<void> {
  // The fake model "summarizes" by quoting the first words of what it was sent.
  await using server = await startFakeModelServer({
    provider: 'openai',
    delayMs: 2,
    reply: (request) => `Summary: ${request.messages.at(-1)?.text.split(/\s+/).slice(0, 6).join(' ')} ...`,
  });
  const model = openai({ model: 'gpt-4o-mini', baseURL: server.baseURL, apiKey: 'not-needed' });
  const report = Array.from(
    { length: 12 },
    (_, i) => `Section ${i + 1}. ${'The sluice gates held the water level steady. '.repeat(12)}`,
  );
  const documents = [
    textPart('Minutes: the board approved the new canal lock and a budget of 2 million.'),
    part('# Release notes\n\nVersion 2 adds image previews and local models.', { mimetype: 'text/markdown' }),
    textPart(report.join('\n\n')),
  ];
  const summaries = summarize({ model, style: 'executive', length: 'brief', chunkWords: 200, documents: 3 });
  let document = 0;
  let text = '';
  for await (const p of summaries(documents)) {
    // The chunk announcement is a status part sent out of band, as soon as the split is made.
    if (p.substream === 'status' && p.metadata.chunks) log(`status: ${p.text}`);
    else if (p.substream === '' && p.text !== undefined) text += p.text;
    else if (p.substream === 'status' && p.metadata.usage) {
      log(`document ${++document}: ${text}`);
      text = '';
    }
  }
  log(`model calls: ${server.requests.length}`);

  await using llm = createLLM('openai', { model: 'gpt-4o-mini', baseURL: server.baseURL, apiKey: 'not-needed' });
  const result = await llm.summarize(textPart('A short note about water levels in the old harbour.'), {
    style: 'bullet',
  });
  log(`llm.summarize: ${result.text}`);
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
