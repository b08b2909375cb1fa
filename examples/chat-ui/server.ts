/**
 * The chat UI on node:http. With OPENAI_API_KEY set it talks to OpenAI (OPENAI_MODEL, default
 * gpt-4o-mini); otherwise it starts the embedded fake OpenAI-compatible server, so it runs with no
 * setup. Run: `pnpm exec tsx examples/chat-ui/server.ts`, then open the printed address.
 *
 * A prompt that asks for a picture ("draw a lighthouse at dusk") goes to `openaiImages` with two
 * partial images: OpenAI's images API with the key (OPENAI_IMAGE_MODEL, default gpt-image-1),
 * else the fake server's `/v1/images/generations`, which streams real PNGs drawn from the prompt.
 * The page shows each preview as it arrives, then the final image in its place.
 */
import type { Processor } from '@sluice/core';
import { openai, openaiImages } from '@sluice/processors';
import { startFakeModelServer } from '@sluice/processors/testing';
import { serveFetch } from '@sluice/sdk';
import { createChatApp } from './app.ts';

export const DEMO_REPLY =
  'Streaming means the reply travels as it is made: each token leaves the model, crosses the server and reaches your screen at once, instead of waiting for the whole answer. Sluice keeps every stage of that path cancellable, so pressing Stop closes the model connection too.';

export async function startChat(options: { model?: Processor; images?: Processor; port?: number } = {}) {
  let fake: Awaited<ReturnType<typeof startFakeModelServer>> | undefined;
  let { model, images } = options;
  if (!model) {
    if (process.env.OPENAI_API_KEY) {
      model = openai({ model: process.env.OPENAI_MODEL ?? 'gpt-4o-mini' });
      images ??= openaiImages({ model: process.env.OPENAI_IMAGE_MODEL ?? 'gpt-image-1', partialImages: 2 });
    } else {
      fake = await startFakeModelServer({
        provider: 'openai',
        reply: DEMO_REPLY,
        delayMs: 40,
        images: { width: 256, height: 256 },
      });
      model = openai({ model: 'fake-model', baseURL: fake.baseURL, apiKey: 'not-needed' });
      images ??= openaiImages({ model: 'gpt-image-1', baseURL: fake.baseURL, apiKey: 'not-needed', partialImages: 2 });
    }
  }
  const app = await createChatApp({ model, images });
  const server = await serveFetch((request) => app.fetch(request), { port: options.port ?? 0 });
  return {
    url: server.url,
    close: async () => {
      await server.close();
      await fake?.close();
    },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const chat = await startChat({ port: Number(process.env.PORT ?? 3000) });
  console.log(`chat UI on ${chat.url} (Ctrl+C to stop)`);
  process.once('SIGINT', () => void chat.close().then(() => process.exit(0)));
}
