/**
 * The same chat UI on Hono (served in Node by @hono/node-server): Hono hands the Web `Request` to
 * the app and streams its `Response`, cancelling the body when the client disconnects, so Stop
 * closes the model stream as with node:http. Run: `pnpm exec tsx examples/chat-ui/server-hono.ts`.
 */
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import type { Processor } from '@sluice/core';
import { openai } from '@sluice/processors';
import { startFakeModelServer } from '@sluice/processors/testing';
import { Hono } from 'hono';
import { createChatApp } from './app.ts';
import { DEMO_REPLY } from './server.ts';

export async function startHonoChat(options: { model?: Processor; port?: number } = {}) {
  let fake: Awaited<ReturnType<typeof startFakeModelServer>> | undefined;
  let model = options.model;
  if (!model) {
    fake = await startFakeModelServer({ provider: 'openai', reply: DEMO_REPLY, delayMs: 40 });
    model = openai({ model: 'fake-model', baseURL: fake.baseURL, apiKey: 'not-needed' });
  }
  const chat = await createChatApp({ model, title: 'Sluice chat (Hono)' });
  const app = new Hono();
  app.all('*', (c) => chat.fetch(c.req.raw));
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve({ fetch: app.fetch, port: options.port ?? 0, hostname: '127.0.0.1' }, () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await fake?.close();
    },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const chat = await startHonoChat({ port: Number(process.env.PORT ?? 3001) });
  console.log(`chat UI (Hono) on ${chat.url} (Ctrl+C to stop)`);
  process.once('SIGINT', () => void chat.close().then(() => process.exit(0)));
}
