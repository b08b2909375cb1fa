import { partProcessor } from '@sluice/core';
import { openai, openaiImages } from '@sluice/processors';
import { type FakeModelServer, startFakeModelServer } from '@sluice/processors/testing';
import type { Browser } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { asksForImage } from '../chat-ui/app.ts';
import { DEMO_REPLY, startChat } from '../chat-ui/server.ts';
import { launchChromium } from './chromium.ts';

let browser: Browser;

beforeAll(async () => {
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
});

describe('asksForImage', () => {
  it('sends pictures to the image model and everything else to the text model', () => {
    for (const p of ['draw a fox', 'Paint the sea', '/image a kite', 'a picture of a boat', 'An image of rain'])
      expect(asksForImage(p), p).toBe(true);
    for (const p of ['Explain streaming in one paragraph.', 'how do I draw conclusions?', 'drawing room history'])
      expect(asksForImage(p), p).toBe(false);
  });
});

describe('chat UI images', () => {
  let fake: FakeModelServer;
  let chat: { url: string; close(): Promise<void> };
  let release: () => void;
  let finalHeld: Promise<void>;

  beforeEach(async () => {
    fake = await startFakeModelServer({ provider: 'openai', reply: DEMO_REPLY, images: { width: 96, height: 64 } });
    const opts = { model: 'gpt-image-1', baseURL: fake.baseURL, apiKey: 'test-key' };
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let held!: () => void;
    finalHeld = new Promise<void>((resolve) => {
      held = resolve;
    });
    // Previews pass at once; the final image waits for the test.
    const holdFinal = partProcessor(
      async function* holdFinal(p) {
        if (p.substream === '' && p.data && p.mimetype.startsWith('image/')) {
          held();
          await gate;
        }
        yield p;
      },
      { concurrency: 1 },
    );
    const images = openaiImages({ ...opts, partialImages: 2 }).pipe(holdFinal);
    const model = openai({ model: 'fake-model', baseURL: fake.baseURL, apiKey: 'test-key' });
    chat = await startChat({ model, images });
  });

  afterEach(async () => {
    release?.();
    await chat?.close();
    await fake?.close();
  });

  it('shows the previews before the final image, then the final PNG rendered', async () => {
    const page = await browser.newPage();
    try {
      await page.goto(chat.url);
      await page.fill('#prompt', 'draw a lighthouse at dusk');
      await page.click('#send');
      await finalHeld;
      // Both previews reached the page while the final image is still held.
      await page.waitForFunction(
        () => document.querySelector('#images')?.getAttribute('data-shown') === 'preview:0 preview:0',
      );
      const preview = await page.$eval('#images img', (img) => ({
        className: img.className,
        partialIndex: (img as HTMLImageElement).dataset.partialIndex,
      }));
      expect(preview.className).toBe('preview');
      expect(preview.partialIndex).toBe('1');
      expect(await page.$$('#images img.final')).toHaveLength(0);
      expect(await page.textContent('#status')).toBe('streaming…');
      const previewWidth = await page.$eval('#images img.preview', async (img) => {
        await (img as HTMLImageElement).decode();
        return (img as HTMLImageElement).naturalWidth;
      });
      expect(previewWidth).toBe(96);

      release();
      await page.waitForFunction(() => document.querySelector('#status')?.textContent?.startsWith('done'));
      expect(await page.textContent('#status')).toBe('done (1 image)');
      expect(await page.getAttribute('#images', 'data-shown')).toBe('preview:0 preview:0 final:0');
      const final = await page.$eval('#images img', async (img) => {
        const image = img as HTMLImageElement;
        await image.decode();
        const blob = await (await fetch(image.src)).blob();
        const head = [...new Uint8Array(await blob.slice(0, 8).arrayBuffer())];
        return { className: image.className, w: image.naturalWidth, h: image.naturalHeight, type: blob.type, head };
      });
      expect(final).toEqual({
        className: 'final',
        w: 96,
        h: 64,
        type: 'image/png',
        head: [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a],
      });
      expect(await page.$$('#images img')).toHaveLength(1);
      expect(await page.textContent('#output')).toBe('');
      // The image request went to the images endpoint with the streamed partials asked for.
      const sent = fake.requests.at(-1)!;
      expect(sent.path).toBe('/v1/images/generations');
      expect(sent.body).toMatchObject({ prompt: 'draw a lighthouse at dusk', stream: true, partial_images: 2 });
    } finally {
      await page.close();
    }
  });

  it('a text prompt still streams text from the text model, with no images', async () => {
    const page = await browser.newPage();
    try {
      await page.goto(chat.url);
      await page.click('#send');
      await page.waitForFunction(() => document.querySelector('#status')?.textContent?.startsWith('done'));
      expect(await page.textContent('#output')).toBe(DEMO_REPLY);
      expect(await page.$$('#images img')).toHaveLength(0);
      expect(fake.requests.at(-1)!.path).toBe('/v1/chat/completions');
    } finally {
      await page.close();
    }
  });
});
