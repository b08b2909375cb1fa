// The trace viewer's page in a real browser (Debian's Chromium driven by playwright-core): calls
// listed and filtered, a trace as a tree with timings and time to first token, a call's parts with
// an image thumbnail, objects with their versions, feedback buttons, live updates over SSE.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chain, type Part, part, partProcessor } from '@sluice/core';
import { fakeModel } from '@sluice/processors';
import { initTracing, startTraceViewer, type TraceViewer, type Tracing, traced } from '@sluice/sdk';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from './chromium.ts';

const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
  'base64',
);
let browser: Browser;
let dir: string;
let tracing: Tracing;
let viewer: TraceViewer;

const look = traced(partProcessor((p: Part) => p, { name: 'look' }));
const pipeline = traced(chain(look, fakeModel({ reply: 'a small red square', name: 'vision', delayMs: 2 })), {
  name: 'describe',
  kind: 'chain',
});

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-viewer-'));
  tracing = await initTracing({ store: dir, project: 'viewer' });
  await pipeline([part(new Uint8Array(PNG), { mimetype: 'image/png' }), 'What is this?']).gather();
  await tracing.save({ prompt: 'Describe {image}' }, 'prompt');
  await tracing.save({ prompt: 'Describe {image} briefly' }, 'prompt');
  viewer = await startTraceViewer({ tracing, pollMs: 50 });
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await viewer?.close();
  await tracing?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('trace viewer page', () => {
  it('shows calls, a trace tree with timings, parts with an image, objects, feedback and live updates', async () => {
    const page = await browser.newPage();
    try {
      await page.goto(viewer.url);
      await page.waitForSelector('tr.call');
      expect(await page.locator('tr.call').count()).toBe(1);
      expect(await page.textContent('tr.call')).toContain('describe');
      // Roots only off: every call is listed; a filter by op narrows it.
      await page.uncheck('#roots');
      await page.waitForFunction(() => document.querySelectorAll('tr.call').length === 3);
      await page.selectOption('#op', 'vision');
      await page.waitForFunction(() => document.querySelectorAll('tr.call').length === 1);
      await page.selectOption('#op', '');
      await page.check('#roots');
      await page.waitForFunction(() => document.querySelectorAll('tr.call').length === 1);

      await page.click('tr.call');
      await page.waitForSelector('.span');
      const names = await page.locator('.span .name').allTextContents();
      expect(names).toEqual(['describe', 'look', 'vision']);
      await page.click('.span:has-text("vision")');
      await page.waitForFunction(() => document.querySelector('#call-title')?.textContent?.startsWith('vision'));
      const timings = (await page.textContent('#timings')) ?? '';
      expect(timings).toMatch(/first output \d+ ms/);
      expect(timings).toMatch(/tokens \d+\/4/);
      expect(timings).toMatch(/tokens\/s/);
      expect(await page.textContent('#output')).toContain('a small red square');

      await page.click('.span:has-text("look")');
      await page.waitForSelector('#inputs img.thumb');
      await page.waitForFunction(
        () => (document.querySelector('#inputs img.thumb') as HTMLImageElement).naturalWidth === 1,
      );

      await page.click('button.feedback[data-type="👍"]');
      await page.waitForFunction(() => document.querySelector('#feedback')?.textContent?.includes('👍'));
      const stored = [];
      for await (const c of tracing.calls({ op: 'look' })) stored.push(c);
      expect(stored[0]!.feedback.map((f) => f.type)).toEqual(['👍']);

      expect(await page.textContent('details.object[data-name="prompt"] summary')).toContain('2 versions');

      // Live: a new run appears without a reload.
      await pipeline(['again']).gather();
      await page.waitForFunction(() => document.querySelectorAll('tr.call').length === 2);
    } finally {
      await page.close();
    }
  }, 30_000);
});
