// End to end in a real browser (Debian's Chromium driven by playwright-core): tokens appear while
// the model is still streaming, and Stop closes the model connection on the server side.
import { mkdirSync, statSync } from 'node:fs';
import { openai } from '@sluice/processors';
import { type FakeModelServer, startFakeModelServer } from '@sluice/processors/testing';
import type { Browser } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEMO_REPLY, startChat } from '../chat-ui/server.ts';
import { startHonoChat } from '../chat-ui/server-hono.ts';
import { launchChromium } from './chromium.ts';

let browser: Browser;

beforeAll(async () => {
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
});

for (const variant of ['node:http', 'hono'] as const) {
  describe(`chat UI on ${variant}`, () => {
    let fake: FakeModelServer;
    let chat: { url: string; close(): Promise<void> };

    beforeEach(async () => {
      // The fake model pauses after 5 tokens until the test releases it.
      fake = await startFakeModelServer({ provider: 'openai', reply: DEMO_REPLY, holdAfter: 5, delayMs: 5 });
      const model = openai({ model: 'fake-model', baseURL: fake.baseURL, apiKey: 'test-key' });
      chat = variant === 'hono' ? await startHonoChat({ model }) : await startChat({ model });
    });

    afterEach(async () => {
      await chat?.close();
      await fake?.close();
    });

    it('shows the first tokens before the model sent the last one, then the whole reply', async () => {
      const page = await browser.newPage();
      try {
        await page.goto(chat.url);
        await page.click('#send');
        const held = await fake.waitForHold();
        await page.waitForFunction(
          () => Number(document.querySelector('#output')?.getAttribute('data-tokens') ?? 0) > 0,
        );
        const early = (await page.textContent('#output')) ?? '';
        expect(early.length).toBeGreaterThan(0);
        expect(early).not.toContain('closes the model connection too.');
        expect(held.tokensSent).toBeLessThan(DEMO_REPLY.split(' ').length);
        fake.release();
        await page.waitForFunction(() => document.querySelector('#status')?.textContent?.startsWith('done'));
        expect(await page.textContent('#output')).toBe(DEMO_REPLY);
        if (variant === 'node:http') {
          mkdirSync('out', { recursive: true });
          await page.screenshot({ path: 'out/chat-ui.png' });
          expect(statSync('out/chat-ui.png').size).toBeGreaterThan(1000);
        }
      } finally {
        await page.close();
      }
    });

    it('Stop aborts the request and the model server sees its connection close', async () => {
      const page = await browser.newPage();
      try {
        await page.goto(chat.url);
        await page.click('#send');
        const request = await fake.waitForHold();
        await page.waitForFunction(
          () => Number(document.querySelector('#output')?.getAttribute('data-tokens') ?? 0) >= 3,
        );
        await page.click('#stop');
        const closed = await Promise.race([
          request!.closed,
          new Promise((_, reject) => setTimeout(() => reject(new Error('the model connection stayed open')), 5000)),
        ]);
        expect(closed).toEqual({ finished: false });
        await page.waitForFunction(() => document.querySelector('#status')?.textContent?.startsWith('stopped'));
        expect(await page.textContent('#output')).not.toBe(DEMO_REPLY);
      } finally {
        fake.release();
        await page.close();
      }
    });
  });
}
