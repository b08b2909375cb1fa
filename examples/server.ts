/**
 * An HTTP API in front of a model, on Hono (served in Node by @hono/node-server), with the three
 * endpoints applications usually need: POST /generate answers one prompt as JSON; POST /batch
 * takes a JSON array of prompts and answers them all, at most `batchConcurrency` at a time, in
 * input order, a failed prompt getting `{ ok: false, error }` in its place (a `partProcessor`
 * wrapped in `catchErrors`); POST /stream streams the answer token by token as server-sent events
 * (`sseResponse`; read it with `readParts` from `@sluice/core`), and stops the model when the
 * client goes away. Bodies are validated with zod (400 with the failing field). Without a model
 * given it starts a local fake OpenAI-compatible server. Run: `pnpm exec tsx examples/server.ts`,
 * then `curl -d '{"prompt":"hi"}' localhost:3000/generate` (or /stream; /batch takes `["a","b"]`).
 */
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { catchErrors, EXCEPTION_MIMETYPE, partProcessor, sseResponse } from '@sluice/core';
import { type FakeModelServer, startFakeModelServer } from '@sluice/processors/testing';
import { APIError, createLLM, type LLM } from '@sluice/sdk';
import { type Context, Hono } from 'hono';
import { z } from 'zod';

const PromptBody = z.object({
  prompt: z.string().min(1, 'must not be empty').max(20_000),
  system: z.string().max(20_000).optional(),
});

export interface ApiOptions {
  llm: LLM;
  /** Prompts of one /batch request answered at once; default 4. */
  batchConcurrency?: number;
  /** Most prompts in one /batch request; default 100. */
  maxBatch?: number;
}

/** One entry of a /batch answer, in the order of the prompts. */
export type BatchItem = { prompt: string; ok: true; text: string } | { prompt: string; ok: false; error: string };

/** The body as `schema` says, or a 400 answer naming what is wrong. */
async function readBody<T>(c: Context, schema: z.ZodType<T>, expected: string): Promise<T | Response> {
  const parsed = schema.safeParse(await c.req.json().catch(() => undefined));
  if (parsed.success) return parsed.data;
  const why = parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ');
  return c.json({ error: { name: 'BadRequest', message: `expected ${expected}: ${why}` } }, 400);
}

export function createApi(options: ApiOptions): Hono {
  const { llm } = options;
  const maxBatch = options.maxBatch ?? 100;
  const BatchBody = z.array(z.string().min(1, 'must not be empty')).min(1).max(maxBatch);
  const answer = partProcessor(async (part, ctx) => (await llm.generate(part.text!, { signal: ctx.signal })).text, {
    name: 'generate',
    concurrency: options.batchConcurrency ?? 4,
  });
  const app = new Hono();

  app.post('/generate', async (c) => {
    const body = await readBody(c, PromptBody, '{"prompt": string, "system"?: string}');
    if (body instanceof Response) return body;
    const { text, usage, finishReason } = await llm.generate(body.prompt, {
      system: body.system,
      signal: c.req.raw.signal,
    });
    return c.json({ text, usage, finishReason });
  });

  app.post('/batch', async (c) => {
    const prompts = await readBody(c, BatchBody, `a JSON array of 1 to ${maxBatch} prompts`);
    if (prompts instanceof Response) return prompts;
    // One output part per prompt, in input order; a failure becomes an exception part in its place.
    const parts = await catchErrors(answer)(prompts, { signal: c.req.raw.signal }).gather();
    const results = parts.map((p, i): BatchItem => {
      const prompt = prompts[i]!;
      if (p.mimetype !== EXCEPTION_MIMETYPE) return { prompt, ok: true, text: p.text ?? '' };
      const { name, message } = p.metadata as { name: string; message: string };
      return { prompt, ok: false, error: `${name}: ${message}` };
    });
    return c.json(results);
  });

  app.post('/stream', async (c) => {
    const body = await readBody(c, PromptBody, '{"prompt": string, "system"?: string}');
    if (body instanceof Response) return body;
    // Lazy: the model is called when the response body is read; cancelling the body stops it.
    return sseResponse(llm.stream(body.prompt, { system: body.system, signal: c.req.raw.signal }));
  });

  // A model failure on /generate (after its retries) is the upstream's: 502; anything else is ours: 500.
  app.onError((error, c) =>
    c.json({ error: { name: error.name, message: error.message } }, error instanceof APIError ? 502 : 500),
  );
  return app;
}

export interface RunningServer {
  url: string;
  close(): Promise<void>;
}

/** Serves `createApi` on 127.0.0.1 (port 0: a free one); without `llm`, over a local fake model server. */
export async function startServer(
  options: Partial<ApiOptions> & { port?: number } = {},
): Promise<RunningServer & { llm: LLM }> {
  let fake: FakeModelServer | undefined;
  let llm = options.llm;
  if (!llm) {
    fake = await startFakeModelServer({
      provider: 'openai',
      reply: (request) => `You asked: ${request.messages.at(-1)?.text}`,
      delayMs: 20,
    });
    llm = createLLM('openai', { model: 'gpt-4o-mini', baseURL: fake.baseURL, env: {} });
  }
  const app = createApi({ ...options, llm });
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve({ fetch: app.fetch, port: options.port ?? 0, hostname: '127.0.0.1' }, () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  const ownLLM = !options.llm;
  return {
    url: `http://127.0.0.1:${port}`,
    llm,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Streams still open would hold close() until they end.
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
      });
      if (ownLLM) await llm.close();
      await fake?.close();
    },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const server = await startServer({ port: Number(process.env.PORT ?? 3000) });
  console.log(`API on ${server.url} (Ctrl+C to stop):`);
  console.log(`  curl -s ${server.url}/generate -d '{"prompt":"What is a sluice?"}'`);
  console.log(`  curl -s ${server.url}/batch -d '["one","two","three"]'`);
  console.log(`  curl -sN ${server.url}/stream -d '{"prompt":"Stream this, please"}'`);
  process.once('SIGINT', () => void server.close().then(() => process.exit(0)));
}
