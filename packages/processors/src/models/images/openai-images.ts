// OpenAI image generation: `POST /images/generations` (or `/images/edits`, multipart, when the
// input carries images), read either as one JSON body (`data[].b64_json`, `usage`) or, with
// `partialImages`, as an SSE stream of `*.partial_image` and `*.completed` events.

import { type Part, type Processor, part, processor } from '@sluice/core';
import {
  type APIError,
  type APIErrorInit,
  ContentPolicyError,
  parseErrorBody,
  UnexpectedResponseError,
} from '../../http/errors.ts';
import { isRetryableError, RETRY_DEFAULTS, retryDelayMs, sleep } from '../../http/retry-policy.ts';
import { type HTTPRequest, type HTTPStream, openStream, secretsOf } from '../../http/transport.ts';
import { withConfig } from '../config.ts';
import { count, field, type Usage } from '../events.ts';
import { eventToPart } from '../model.ts';
import { joinURL } from '../options.ts';
import { jsonFrames, sseFrames, streamEventError } from '../run.ts';
import { multipartBody } from './multipart.ts';
import { imageMimetypeOf } from './signature.ts';

/** Options of `openaiImages`. */
export interface OpenAIImagesOptions {
  /** e.g. 'gpt-image-1', 'gpt-image-1-mini', 'dall-e-3'. */
  model: string;
  /** Includes `/v1`; default OPENAI_BASE_URL, else https://api.openai.com/v1. */
  baseURL?: string;
  /** Default OPENAI_API_KEY. Never appears in errors. */
  apiKey?: string;
  /** e.g. '1024x1024', '1536x1024', 'auto'. */
  size?: string;
  /** e.g. 'low', 'medium', 'high', 'auto'. */
  quality?: string;
  /** Images to make; default 1. */
  n?: number;
  /** Default 'png'. */
  outputFormat?: 'png' | 'jpeg' | 'webp';
  /** When set, the answer is streamed, with this many partial images per image first (0 to 3). */
  partialImages?: 0 | 1 | 2 | 3;
  /** Retries of transient failures (429 honouring Retry-After, 5xx, connection errors) before the first image; default 2. */
  maxRetries?: number;
}

const POLICY_CODES = new Set(['moderation_blocked', 'content_policy_violation', 'content_filter', 'safety_violation']);
const POLICY_HINT =
  "the provider's safety system refused this prompt or image: rephrase it (retrying the same prompt is refused again)";

/** The error for a refusal under the content policy, or `error` unchanged. */
function policyError(error: unknown): unknown {
  const api = error as APIError;
  if (!api || typeof api !== 'object' || !('providerCode' in api)) return error;
  if (!POLICY_CODES.has(api.providerCode ?? '') && api.type !== 'image_generation_user_error') return error;
  const init: APIErrorInit = {
    status: api.status,
    type: api.type,
    providerCode: api.providerCode,
    requestId: api.requestId,
    provider: api.provider,
    body: api.body,
    headers: api.headers,
    hint: POLICY_HINT,
    cause: error,
  };
  return new ContentPolicyError(`${api.message.replace(/ \(.*\)( \[request id .*\])?$/, '$1')} (${POLICY_HINT})`, init);
}

function usageOf(value: unknown): Usage | undefined {
  const input = count(field(value, 'input_tokens'));
  const output = count(field(value, 'output_tokens'));
  if (input === undefined && output === undefined) return undefined;
  return {
    inputTokens: input ?? 0,
    outputTokens: output ?? 0,
    totalTokens: count(field(value, 'total_tokens')) ?? (input ?? 0) + (output ?? 0),
  };
}

function addUsage(a: Usage | undefined, b: Usage | undefined): Usage | undefined {
  if (!a || !b) return a ?? b;
  return {
    inputTokens: a.inputTokens + b.inputTokens,
    outputTokens: a.outputTokens + b.outputTokens,
    totalTokens: (a.totalTokens ?? 0) + (b.totalTokens ?? 0),
  };
}

/** The prompt (text parts of the default substream) and the input images of `parts`. */
export function imageInput(parts: readonly Part[]): { prompt: string; images: Part[] } {
  const texts: string[] = [];
  const images: Part[] = [];
  for (const p of parts) {
    if (p.substream !== '') continue;
    if (p.text !== undefined) {
      if (p.text !== '') texts.push(p.text);
    } else if (p.data && p.mimetype.startsWith('image/')) images.push(p);
  }
  return { prompt: texts.join('\n'), images };
}

/**
 * OpenAI image generation. The run gathers its input: its text parts are the prompt, and image
 * parts switch the call to `/images/edits` (multipart). Output: with `partialImages`, each partial
 * image as a data part on substream 'preview' (metadata `{ index, partialIndex }`); then each
 * image, in index order, as a data part (role 'model', mimetype from `outputFormat`, checked
 * against the bytes; metadata `{ index, revisedPrompt? }`); then the status part with `usage`.
 * A refusal is a ContentPolicyError; transient failures are retried before the first part;
 * stopping closes the connection at once.
 */
export function openaiImages(options: OpenAIImagesOptions): Processor {
  if (!options || typeof options.model !== 'string' || options.model === '') {
    throw new TypeError("openaiImages: the model option is required, e.g. openaiImages({ model: 'gpt-image-1' })");
  }
  if (options.n !== undefined && !(Number.isInteger(options.n) && options.n >= 1 && options.n <= 10)) {
    throw new RangeError(`openaiImages: n must be an integer from 1 to 10, found ${String(options.n)}`);
  }
  if (options.partialImages !== undefined && ![0, 1, 2, 3].includes(options.partialImages)) {
    throw new RangeError(`openaiImages: partialImages must be 0, 1, 2 or 3, found ${String(options.partialImages)}`);
  }
  const name = `openai-images:${options.model}`;
  const source = { provider: 'openai', model: options.model };
  const expected = `image/${options.outputFormat ?? 'png'}`;
  const streamed = options.partialImages !== undefined;

  const request = (parts: readonly Part[]): HTTPRequest => {
    const { prompt, images } = imageInput(parts);
    if (prompt === '') {
      throw new TypeError(`${name}: the input has no text for the prompt; send a text part describing the image`);
    }
    const baseURL = options.baseURL ?? process.env.OPENAI_BASE_URL ?? 'https://api.openai.com/v1';
    const apiKey = options.apiKey ?? process.env.OPENAI_API_KEY;
    const fields: [string, string][] = [
      ['model', options.model],
      ['prompt', prompt],
    ];
    if (options.n !== undefined) fields.push(['n', String(options.n)]);
    if (options.size !== undefined) fields.push(['size', options.size]);
    if (options.quality !== undefined) fields.push(['quality', options.quality]);
    if (options.outputFormat !== undefined) fields.push(['output_format', options.outputFormat]);
    // DALL-E answers with URLs unless asked for base64; the gpt-image models always send base64.
    if (options.model.startsWith('dall-e')) fields.push(['response_format', 'b64_json']);
    if (streamed) fields.push(['stream', 'true'], ['partial_images', String(options.partialImages)]);
    const headers: Record<string, string> = { accept: streamed ? 'text/event-stream' : 'application/json' };
    if (apiKey) headers.authorization = `Bearer ${apiKey}`;
    const common = { provider: 'openai', apiKeyEnv: 'OPENAI_API_KEY', secrets: apiKey ? [apiKey] : [] };
    if (images.length === 0) {
      const body: Record<string, unknown> = {};
      for (const [key, value] of fields) {
        body[key] = key === 'n' || key === 'partial_images' ? Number(value) : key === 'stream' ? true : value;
      }
      return {
        ...common,
        url: joinURL(baseURL, 'images/generations'),
        label: 'POST /images/generations',
        headers: { ...headers, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      };
    }
    const files = images.map((image, i) => ({
      name: images.length === 1 ? 'image' : 'image[]',
      filename: `image-${i}.${image.mimetype.slice('image/'.length) || 'png'}`,
      mimetype: image.mimetype,
      data: image.data!,
    }));
    const { body, contentType } = multipartBody(fields, files);
    return {
      ...common,
      url: joinURL(baseURL, 'images/edits'),
      label: 'POST /images/edits',
      headers: { ...headers, 'content-type': contentType },
      body,
    };
  };

  const image = (b64: unknown, init: { substream?: string; metadata: Record<string, unknown> }): Part => {
    if (typeof b64 !== 'string' || b64 === '') {
      throw new UnexpectedResponseError(`${name}: an image without b64_json in the response`, {
        provider: 'openai',
        hint: 'the server does not speak the OpenAI images API; check the baseURL',
      });
    }
    const data = new Uint8Array(Buffer.from(b64, 'base64'));
    const found = imageMimetypeOf(data);
    if (found !== expected) {
      const hint = `pass the outputFormat the server produces (found ${found ?? 'bytes of no known image format'})`;
      throw new UnexpectedResponseError(
        `${name}: expected ${expected} (outputFormat), found ${found ?? 'no image'}; ${hint}`,
        {
          provider: 'openai',
          hint,
        },
      );
    }
    return part(data, { mimetype: expected, role: 'model', substream: init.substream, metadata: init.metadata });
  };

  async function* fromJSON(stream: HTTPStream, secrets: readonly string[]): AsyncGenerator<Part> {
    for await (const frame of jsonFrames(stream.body, 'openai', secrets)) {
      const data = field(frame.value, 'data');
      if (!Array.isArray(data)) {
        throw new UnexpectedResponseError(`${name}: the response has no data array`, {
          provider: 'openai',
          hint: 'the server does not speak the OpenAI images API; check the baseURL',
        });
      }
      for (const [index, item] of data.entries()) {
        const revised = field(item, 'revised_prompt');
        yield image(field(item, 'b64_json'), {
          metadata: typeof revised === 'string' ? { index, revisedPrompt: revised } : { index },
        });
      }
      yield finish(usageOf(field(frame.value, 'usage')));
    }
  }

  async function* fromSSE(stream: HTTPStream, secrets: readonly string[]): AsyncGenerator<Part> {
    let index = 0;
    let usage: Usage | undefined;
    for await (const frame of sseFrames(stream.body, 'openai', secrets)) {
      if (frame.terminator) break;
      const type = frame.event ?? String(field(frame.value, 'type') ?? '');
      if (type === 'error' || field(frame.value, 'error') !== undefined) {
        throw streamEventError('openai', parseErrorBody(frame.value), { requestId: stream.requestId, secrets });
      }
      if (type.endsWith('.partial_image')) {
        const partialIndex = count(field(frame.value, 'partial_image_index')) ?? 0;
        yield image(field(frame.value, 'b64_json'), { substream: 'preview', metadata: { index, partialIndex } });
      } else if (type.endsWith('.completed')) {
        yield image(field(frame.value, 'b64_json'), { metadata: { index } });
        usage = addUsage(usage, usageOf(field(frame.value, 'usage')));
        index++;
      }
    }
    if (index === 0) {
      throw new UnexpectedResponseError(`${name}: the stream ended before any image was completed`, {
        provider: 'openai',
        hint: 'the connection may have been cut; try again',
      });
    }
    yield finish(usage);
  }

  const finish = (usage: Usage | undefined): Part =>
    eventToPart({ type: 'finish', finishReason: 'stop', rawFinishReason: undefined, usage }, source);

  const p = processor(
    async function* images(input, ctx) {
      const req = request(await input.gather());
      const secrets = secretsOf(req);
      const maxRetries = options.maxRetries ?? RETRY_DEFAULTS.maxRetries;
      for (let retry = 0; ; retry++) {
        let stream: HTTPStream | undefined;
        let emitted = false;
        try {
          stream = await openStream(req, {}, ctx.signal);
          const json = (stream.headers['content-type'] ?? '').includes('application/json');
          for await (const out of json ? fromJSON(stream, secrets) : fromSSE(stream, secrets)) {
            emitted = true;
            yield out;
          }
          return;
        } catch (caught) {
          if (ctx.signal.aborted) throw ctx.signal.reason;
          const error = policyError(caught);
          if (emitted || retry >= maxRetries || !isRetryableError(error)) throw error;
          const delayMs = retryDelayMs(retry, { headers: (error as APIError).headers });
          stream?.close();
          ctx.status(
            `${name}: ${(error as Error).name}, retry ${retry + 1} of ${maxRetries} in ${Math.round(delayMs)} ms`,
            {
              metadata: { retry: retry + 1, maxRetries, delayMs },
            },
          );
          await sleep(delayMs, ctx.signal);
        } finally {
          stream?.close();
        }
      }
    },
    { name },
  );
  const { apiKey: _key, ...config } = options;
  return withConfig(p, { provider: 'openai-images', ...config });
}
