/**
 * The chat UI's application, written against Web standards only (Request -> Response), so the
 * same code serves node:http (server.ts), Hono (server-hono.ts) or an edge runtime.
 *
 * GET / is the page, GET /client.js the browser code (client.ts bundled by esbuild at startup),
 * POST /api/chat streams the model's reply as server-sent events with `sseResponse`: one event per
 * part, so the page renders each token the moment it arrives. When the browser presses Stop (or
 * goes away), the response body is cancelled, which stops the pipeline and closes the upstream
 * model connection.
 *
 * Images: given an `images` processor (e.g. `openaiImages({ model, partialImages: 2 })`), a prompt
 * that asks for a picture (see `asksForImage`: it starts with "draw", "paint", "/image", "an image
 * of" or "a picture of") goes to it instead of the text model, over the same route and the same
 * events. Its partial images arrive as data parts on substream 'preview' (metadata
 * `{ index, partialIndex }`), then the final image as a data part with an image mimetype and role
 * 'model'; the page shows each preview the moment it arrives and replaces it with the final image.
 */
import { fileURLToPath } from 'node:url';
import { type Processor, sseResponse, textPart } from '@sluice/core';
import { build } from 'esbuild';
import { z } from 'zod';

const ChatRequest = z.object({ prompt: z.string().min(1, 'prompt must not be empty').max(20_000) });

/** Bundles the browser code once (esbuild resolves the workspace packages and their TypeScript). */
export async function bundleClient(): Promise<string> {
  const result = await build({
    entryPoints: [fileURLToPath(new URL('./client.ts', import.meta.url))],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    // The workspace packages' TypeScript sources (their `exports` list this condition first), so no build is needed.
    conditions: ['sluice-source'],
    target: 'es2022',
    write: false,
    minify: true,
    logLevel: 'silent',
  });
  return result.outputFiles[0]!.text;
}

/** Whether the prompt asks for a picture rather than text (a leading "draw", "paint", "/image", ...). */
export function asksForImage(prompt: string): boolean {
  return /^\s*(\/image\b|draw\b|paint\b|(an? )?(image|picture|drawing) of\b)/i.test(prompt);
}

export interface ChatApp {
  fetch(request: Request): Promise<Response>;
}

export async function createChatApp(options: {
  model: Processor;
  images?: Processor;
  title?: string;
}): Promise<ChatApp> {
  const clientJs = await bundleClient();
  const page = html(options.title ?? 'Sluice chat');
  return {
    async fetch(request) {
      const url = new URL(request.url);
      if (request.method === 'GET' && url.pathname === '/') {
        return new Response(page, { headers: { 'content-type': 'text/html; charset=utf-8' } });
      }
      if (request.method === 'GET' && url.pathname === '/client.js') {
        return new Response(clientJs, { headers: { 'content-type': 'text/javascript; charset=utf-8' } });
      }
      if (url.pathname === '/api/chat') {
        if (request.method !== 'POST') return new Response('use POST', { status: 405 });
        const parsed = ChatRequest.safeParse(await request.json().catch(() => undefined));
        if (!parsed.success) {
          const message = parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ');
          return Response.json({ error: `expected {"prompt": string}: ${message}` }, { status: 400 });
        }
        const chosen = options.images && asksForImage(parsed.data.prompt) ? options.images : options.model;
        const reply = chosen([textPart(parsed.data.prompt, { role: 'user' })], { signal: request.signal });
        return sseResponse(reply, { heartbeatMs: 10_000 });
      }
      return new Response('not found', { status: 404 });
    },
  };
}

function html(title: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<style>
  body { font: 16px/1.5 system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; color: #1d232a; }
  h1 { font-size: 1.3rem; }
  form { display: flex; gap: .5rem; }
  textarea { flex: 1; font: inherit; padding: .5rem; min-height: 3rem; }
  button { font: inherit; padding: .4rem 1rem; }
  #output { white-space: pre-wrap; border: 1px solid #ccd; border-radius: 6px; padding: 1rem; min-height: 6rem; margin-top: 1rem; background: #fafbfd; }
  #images { display: flex; flex-wrap: wrap; gap: .5rem; margin-top: .5rem; }
  #images img { width: 16rem; height: 16rem; object-fit: contain; image-rendering: pixelated; border: 1px solid #ccd; border-radius: 6px; }
  #images img.preview { opacity: .6; filter: blur(1px); }
  #status { color: #667; font-size: .9rem; margin-top: .5rem; }
</style>
</head>
<body>
<h1>${title}</h1>
<form id="chat">
  <textarea id="prompt" placeholder="Ask something, or start with &quot;draw&quot; for a picture">Explain streaming in one paragraph.</textarea>
  <div><button id="send" type="submit">Send</button> <button id="stop" type="button" disabled>Stop</button></div>
</form>
<div id="output" aria-live="polite"></div>
<div id="images"></div>
<div id="status">idle</div>
<script type="module" src="/client.js"></script>
</body>
</html>`;
}
