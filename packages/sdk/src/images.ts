// `createImageModel`: image generation from OpenAI, Gemini, or an in-process fake, behind one
// small interface. `generate` resolves with the images; `stream` yields the parts as they come
// (partial previews on substream 'preview' for OpenAI with `partialImages`).

import { type ContentLike, type Part, PartStream, type Processor, part, processor, statusPart } from '@sluice/core';
import { gemini, type OpenAIImagesOptions, openaiImages } from '@sluice/processors';
import { drawPicture } from '@sluice/processors/testing';
import { ClosedError, ConfigError } from './errors.ts';
import type { Usage } from './llm.ts';
import { type Environment, resolveProvider } from './providers.ts';

/** Options of `createImageModel('openai')`: openaiImages' options; key and base URL as `createLLM`. */
export type OpenAIImageModelOptions = OpenAIImagesOptions & { env?: Environment };

/** Options of `createImageModel('gemini')`: an image-capable Gemini model. */
export interface GeminiImageModelOptions {
  /** e.g. 'gemini-2.5-flash-image'. */
  model: string;
  baseURL?: string;
  apiKey?: string;
  env?: Environment;
}

/** Options of `createImageModel('fake')`: deterministic PNGs drawn in process from the prompt. */
export interface FakeImageModelOptions {
  model?: string;
  /** Picture size; default 64x64. */
  width?: number;
  height?: number;
  /** Partial images per image, on substream 'preview'; default 0. */
  partialImages?: number;
}

/** Options of one `generate` / `stream` call. */
export interface ImageGenerateOptions {
  /** Images to make (OpenAI and fake; Gemini makes one per call). */
  n?: number;
  /** e.g. '1024x1024' (OpenAI). */
  size?: string;
  signal?: AbortSignal;
}

/** What `generate` resolves with. */
export interface ImageResult {
  /** The final images, in index order. */
  images: { data: Uint8Array; mimetype: string }[];
  /** Every part, in order: previews, images, text, status. */
  parts: Part[];
  usage?: Usage;
}

/** An image model. */
export interface ImageModel extends AsyncDisposable {
  readonly provider: 'openai' | 'gemini' | 'fake';
  readonly model: string;
  /** Makes the images of one prompt. Rejects with the provider's typed error (ContentPolicyError for a refusal) or `signal.reason`. */
  generate(prompt: ContentLike, options?: ImageGenerateOptions): Promise<ImageResult>;
  /** Streams one prompt's parts as they arrive; runs when iterated. */
  stream(prompt: ContentLike, options?: ImageGenerateOptions): PartStream;
  /** Stops every call still running (they reject with ClosedError) and refuses new ones. Idempotent. */
  close(): Promise<void>;
}

function fakeImages(options: FakeImageModelOptions, call: ImageGenerateOptions): Processor {
  const model = options.model ?? 'fake-image';
  return processor(
    async function* fakeImage(input) {
      const prompt = (await input.gather())
        .filter((p) => p.substream === '' && p.text !== undefined)
        .map((p) => p.text)
        .join('\n');
      const [width, height] = call.size?.split('x').map(Number) ?? [options.width, options.height];
      for (let index = 0; index < (call.n ?? 1); index++) {
        for (let partialIndex = 0; partialIndex < (options.partialImages ?? 0); partialIndex++) {
          const block = 2 ** ((options.partialImages ?? 0) - partialIndex + 1);
          yield part(drawPicture(`${prompt}#${index}`, { width, height, block }), {
            mimetype: 'image/png',
            role: 'model',
            substream: 'preview',
            metadata: { index, partialIndex },
          });
        }
        yield part(drawPicture(`${prompt}#${index}`, { width, height }), {
          mimetype: 'image/png',
          role: 'model',
          metadata: { index },
        });
      }
      const usage = { inputTokens: prompt.split(/\s+/).filter(Boolean).length, outputTokens: call.n ?? 1 };
      yield statusPart(`fake ${model} finished: stop`, {
        role: 'model',
        metadata: { provider: 'fake', model, finishReason: 'stop', usage },
      });
    },
    { name: `fake:${model}` },
  );
}

/**
 * An image model of `provider`: 'openai' (openaiImages; OPENAI_API_KEY and OPENAI_BASE_URL as
 * createLLM reads them), 'gemini' (an image-capable Gemini model asked for TEXT and IMAGE output),
 * or 'fake' (deterministic PNGs, no network). Calls are independent and may run concurrently:
 * parallel generation is `Promise.all` over `generate` calls.
 */
export function createImageModel(provider: 'openai', options: OpenAIImageModelOptions): ImageModel;
export function createImageModel(provider: 'gemini', options: GeminiImageModelOptions): ImageModel;
export function createImageModel(provider: 'fake', options?: FakeImageModelOptions): ImageModel;
export function createImageModel(
  provider: 'openai' | 'gemini' | 'fake',
  options: OpenAIImageModelOptions | GeminiImageModelOptions | FakeImageModelOptions = {},
): ImageModel {
  let build: (call: ImageGenerateOptions) => Processor;
  let model: string;
  if (provider === 'fake') {
    const fake = options as FakeImageModelOptions;
    model = fake.model ?? 'fake-image';
    build = (call) => fakeImages(fake, call);
  } else if (provider === 'openai' || provider === 'gemini') {
    const { env, baseURL, apiKey, ...rest } = options as OpenAIImageModelOptions;
    if (typeof rest.model !== 'string' || rest.model === '') {
      throw new ConfigError(
        `createImageModel('${provider}'): the model option is required`,
        "e.g. { model: 'gpt-image-1' }",
      );
    }
    model = rest.model;
    const resolved = resolveProvider(provider, { baseURL, apiKey }, env ?? process.env);
    if (provider === 'openai') {
      build = (call) =>
        openaiImages({
          ...rest,
          n: call.n ?? rest.n,
          size: call.size ?? rest.size,
          baseURL: resolved.baseURL,
          apiKey: resolved.apiKey,
        });
    } else {
      const p = gemini({
        model,
        baseURL: resolved.baseURL,
        apiKey: resolved.apiKey,
        apiKeyEnv: resolved.apiKeyEnv,
        extraBody: { generationConfig: { responseModalities: ['TEXT', 'IMAGE'] } },
      });
      build = () => p;
    }
  } else {
    throw new ConfigError(
      `createImageModel: unknown provider ${JSON.stringify(provider)}`,
      "use 'openai', 'gemini' or 'fake'",
    );
  }
  return new Images(provider, model, build);
}

class Images implements ImageModel {
  readonly #closer = new AbortController();
  constructor(
    readonly provider: 'openai' | 'gemini' | 'fake',
    readonly model: string,
    readonly build: (call: ImageGenerateOptions) => Processor,
  ) {}

  stream(prompt: ContentLike, options: ImageGenerateOptions = {}): PartStream {
    this.#throwIfClosed();
    const p = this.build(options);
    const closer = this.#closer.signal;
    return new PartStream({
      [Symbol.asyncIterator]: () => {
        this.#throwIfClosed();
        const signal = options.signal ? AbortSignal.any([closer, options.signal]) : closer;
        return p(prompt, { signal })[Symbol.asyncIterator]();
      },
    });
  }

  async generate(prompt: ContentLike, options: ImageGenerateOptions = {}): Promise<ImageResult> {
    const parts = await this.stream(prompt, options).gather();
    const result: ImageResult = { images: [], parts };
    for (const p of parts) {
      if (p.substream === '' && p.data && p.mimetype.startsWith('image/')) {
        result.images.push({ data: p.data, mimetype: p.mimetype });
      }
      if (p.substream === 'status' && (p.metadata as { usage?: Usage }).usage) {
        result.usage = (p.metadata as { usage: Usage }).usage;
      }
    }
    return result;
  }

  async close(): Promise<void> {
    if (!this.#closer.signal.aborted) {
      this.#closer.abort(new ClosedError(`the image model ${this.provider}:${this.model}`, 'createImageModel()'));
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #throwIfClosed(): void {
    if (this.#closer.signal.aborted) throw this.#closer.signal.reason;
  }
}
