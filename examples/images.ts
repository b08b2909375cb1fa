/**
 * Images against a local fake OpenAI server (real HTTP on loopback, real PNGs drawn in process):
 * one image with its partial previews as they arrive, four images in parallel, and a pipeline
 * that mixes text and image calls.
 *
 * Shows: `createImageModel('openai', { partialImages })`, previews on substream 'preview' then the
 * final image and a status part with usage; parallel generation two ways, `Promise.all` over
 * `generate` and a part processor at a bounded concurrency; a text model and an image model in one
 * run. No API key or network needed. Run: `pnpm exec tsx examples/images.ts`.
 */
import { type Part, partProcessor, textPart } from '@sluice/core';
import { startFakeModelServer } from '@sluice/processors/testing';
import { createImageModel, createLLM } from '@sluice/sdk';

const kb = (p: Part) => `${((p.data?.byteLength ?? 0) / 1024).toFixed(1)} KB`;

/** Prints one line per event; `log` is replaceable so the test can read the output. */
export async function main(log: (line: string) => void = console.log): Promise<void> {
  await using server = await startFakeModelServer({ provider: 'openai', delayMs: 10, reply: 'a fox in the snow' });
  const options = { model: 'gpt-image-1', baseURL: server.baseURL, apiKey: 'not-needed' };
  await using images = createImageModel('openai', { ...options, partialImages: 2 });

  log('one image:');
  for await (const p of images.stream('a lighthouse at dusk')) {
    if (p.substream === 'preview')
      log(`  preview ${p.metadata.partialIndex} of image ${p.metadata.index}: ${p.mimetype}, ${kb(p)}`);
    else if (p.substream === 'status') log(`  done: ${JSON.stringify((p.metadata as { usage: unknown }).usage)}`);
    else if (p.data) log(`  image ${p.metadata.index}: ${p.mimetype}, ${kb(p)}`);
  }

  log('four in parallel (Promise.all):');
  const prompts = ['a red kite', 'a paper boat', 'an old map', 'a quiet harbour'];
  const results = await Promise.all(prompts.map((prompt) => images.generate(prompt)));
  for (const [i, result] of results.entries())
    log(`  ${prompts[i]}: ${result.images.length} image, ${result.images[0]!.data.byteLength} bytes`);

  log('four in parallel (a part processor, 2 at a time):');
  const draw = partProcessor(
    async function* drawEach(p) {
      const { images: made } = await images.generate(p.text!);
      yield textPart(`${p.text}: ${made[0]!.data.byteLength} bytes`);
    },
    { concurrency: 2 },
  );
  for await (const p of draw(prompts)) log(`  ${p.text}`);

  log('text and image mixed:');
  await using llm = createLLM('openai', { ...options, model: 'gpt-4o-mini' });
  const idea = await llm.generate('Describe a picture in five words.');
  log(`  the text model says: ${idea.text}`);
  const picture = await images.generate(idea.text);
  log(`  the image model drew it: ${picture.images[0]!.mimetype}, ${picture.images[0]!.data.byteLength} bytes`);
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
