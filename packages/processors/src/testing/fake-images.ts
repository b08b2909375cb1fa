// The image endpoints of the fake model server: OpenAI `POST /v1/images/generations` and
// `/v1/images/edits` (JSON, or SSE with partial images when `stream: true`), and Gemini image
// output (inlineData, or a `data:` URL in text as some gateways send). Every image is a real PNG
// drawn in process from the prompt (see ./png.ts).

import type { IncomingMessage, ServerResponse } from 'node:http';
import { splitIntoTokens } from '../models/tokens.ts';
import { drawPicture } from './png.ts';

/** Options of the fake server's images (`startFakeModelServer({ images })`). */
export interface FakeImagesOptions {
  /** Size of the pictures; default 64x64 whatever `size` the request asks for. */
  width?: number;
  height?: number;
  /** Seeded noise so that the PNGs do not compress (benchmarks of megabyte images). */
  noise?: boolean;
  /** Prompts this returns true for are refused as OpenAI refuses them (400 `moderation_blocked`). */
  blocked?: (prompt: string) => boolean;
  /** Gemini: send the image as a `data:` URL in a text part instead of inlineData. */
  dataURLInText?: boolean;
  /** Output tokens reported per image; default 272. */
  tokensPerImage?: number;
}

/** What the fake server's handler hands over for one image request. */
export interface ImageRequest {
  path: string;
  headers: IncomingMessage['headers'];
  /** The raw body (JSON or multipart). */
  raw: Buffer;
  /** The parsed JSON body, when it was JSON. */
  body: unknown;
  res: ServerResponse;
  /** Wait between two streamed events. */
  delayMs: number;
  options: FakeImagesOptions;
}

/** Whether the fake server should hand this request to the image endpoints. */
export function isImageRoute(provider: string, path: string, body: unknown): boolean {
  if (provider === 'openai') return /^(\/v1)?\/images\/(generations|edits)$/.test(path);
  if (provider === 'gemini') {
    const modalities = (body as { generationConfig?: { responseModalities?: unknown } } | undefined)?.generationConfig
      ?.responseModalities;
    return Array.isArray(modalities) && modalities.some((m) => String(m).toUpperCase() === 'IMAGE');
  }
  return false;
}

interface ImageAsk {
  prompt: string;
  n: number;
  stream: boolean;
  partials: number;
  outputFormat: string;
  inputImages: number;
  edit: boolean;
}

async function readAsk(request: ImageRequest): Promise<ImageAsk> {
  const edit = request.path.endsWith('/edits');
  const type = String(request.headers['content-type'] ?? '');
  let fields: Record<string, string> = {};
  let inputImages = 0;
  if (type.startsWith('multipart/form-data')) {
    const form = await new Request('http://fake/', {
      method: 'POST',
      headers: { 'content-type': type },
      body: new Uint8Array(request.raw),
    }).formData();
    for (const [key, value] of form.entries()) {
      if (typeof value === 'string') fields[key] = value;
      else if (key === 'image' || key === 'image[]') inputImages++;
    }
  } else {
    const body = (request.body ?? {}) as Record<string, unknown>;
    fields = Object.fromEntries(Object.entries(body).map(([k, v]) => [k, String(v)]));
  }
  return {
    prompt: fields.prompt ?? '',
    n: Math.max(1, Number.parseInt(fields.n ?? '1', 10) || 1),
    stream: fields.stream === 'true',
    partials: Math.min(3, Math.max(0, Number.parseInt(fields.partial_images ?? '0', 10) || 0)),
    outputFormat: fields.output_format ?? 'png',
    inputImages,
    edit,
  };
}

const wait = (ms: number) => (ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve());

function write(res: ServerResponse, text: string): Promise<void> {
  return new Promise((resolve) => {
    if (res.destroyed) resolve();
    else res.write(text, () => resolve());
  });
}

/** Serves one OpenAI image request: a refusal, a JSON body, or an SSE stream with partial images. */
export async function serveOpenAIImages(request: ImageRequest): Promise<void> {
  const { res, options } = request;
  const ask = await readAsk(request);
  if (ask.prompt === '') {
    res.writeHead(400, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { message: 'prompt is required', type: 'invalid_request_error', code: null } }));
    return;
  }
  if (options.blocked?.(ask.prompt)) {
    res.writeHead(400, { 'content-type': 'application/json', 'x-request-id': 'req_fake_images' });
    res.end(
      JSON.stringify({
        error: {
          message: 'Your request was rejected by the safety system.',
          type: 'image_generation_user_error',
          param: null,
          code: 'moderation_blocked',
        },
      }),
    );
    return;
  }
  const picture = (index: number, block = 1) =>
    Buffer.from(
      drawPicture(`${ask.prompt}#${index}`, {
        width: options.width,
        height: options.height,
        noise: options.noise,
        block,
      }),
    ).toString('base64');
  const inputTokens = splitIntoTokens(ask.prompt).length + ask.inputImages * 100;
  const perImage = options.tokensPerImage ?? 272;
  const usage = (images: number) => ({
    input_tokens: inputTokens,
    output_tokens: perImage * images,
    total_tokens: inputTokens + perImage * images,
    input_tokens_details: { text_tokens: inputTokens - ask.inputImages * 100, image_tokens: ask.inputImages * 100 },
  });
  if (!ask.stream) {
    const data = Array.from({ length: ask.n }, (_, i) => ({
      b64_json: picture(i),
      revised_prompt: `${ask.prompt} (revised)`,
    }));
    res.writeHead(200, { 'content-type': 'application/json', 'x-request-id': 'req_fake_images' });
    res.end(JSON.stringify({ created: 1_700_000_000, data, usage: usage(ask.n), output_format: ask.outputFormat }));
    return;
  }
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
  res.flushHeaders();
  const prefix = ask.edit ? 'image_edit' : 'image_generation';
  let first = true;
  const send = async (type: string, payload: Record<string, unknown>) => {
    if (!first) await wait(request.delayMs);
    first = false;
    await write(res, `event: ${type}\ndata: ${JSON.stringify({ type, ...payload })}\n\n`);
  };
  for (let i = 0; i < ask.n && !res.destroyed; i++) {
    for (let p = 0; p < ask.partials && !res.destroyed; p++) {
      await send(`${prefix}.partial_image`, {
        b64_json: picture(i, 2 ** (ask.partials - p + 1)),
        partial_image_index: p,
        created_at: 1_700_000_000,
        output_format: ask.outputFormat,
      });
    }
    await send(`${prefix}.completed`, {
      b64_json: picture(i),
      created_at: 1_700_000_000,
      output_format: ask.outputFormat,
      usage: usage(1),
    });
  }
  res.end();
}

/** Serves one Gemini streamGenerateContent request for image output: a text part, then the image. */
export async function serveGeminiImage(request: ImageRequest, prompt: string): Promise<void> {
  const { res, options } = request;
  const image = Buffer.from(
    drawPicture(prompt, { width: options.width, height: options.height, noise: options.noise }),
  ).toString('base64');
  const imagePart = options.dataURLInText
    ? { text: `data:image/png;base64,${image}` }
    : { inlineData: { mimeType: 'image/png', data: image } };
  const inputTokens = splitIntoTokens(prompt).length;
  const usageMetadata = {
    promptTokenCount: inputTokens,
    candidatesTokenCount: 1290,
    totalTokenCount: inputTokens + 1290,
  };
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8' });
  res.flushHeaders();
  const events = [
    { candidates: [{ content: { role: 'model', parts: [{ text: 'Here is your picture.' }] } }], usageMetadata },
    { candidates: [{ content: { role: 'model', parts: [imagePart] }, finishReason: 'STOP' }], usageMetadata },
  ];
  for (const [i, event] of events.entries()) {
    if (i > 0) await wait(request.delayMs);
    await write(res, `data: ${JSON.stringify(event)}\r\n\r\n`);
  }
  res.end();
}
