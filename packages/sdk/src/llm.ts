// `createLLM`: one call to get a model from any supported provider, with the
// provider's usual defaults, and `Session`: a conversation kept as parts.
// Both are thin layers over the model processors: `llm.processor` is the
// processor itself, ready to be piped into a larger pipeline.

import {
  type ContentLike,
  fromJSON,
  isPart,
  type Part,
  type PartLike,
  PartSchema,
  PartStream,
  type Processor,
  part,
  processor,
  textPart,
  toJSON,
} from '@sluice/core';
import {
  anthropic,
  fakeModel,
  gemini,
  isReplayPart,
  type LlamaCppOptions,
  llamaCpp,
  type Usage as ModelUsage,
  ollama,
  openai,
  openaiResponses,
  RateLimiter,
  type RateLimitOptions,
  type RetryOptions,
  rateLimit,
  retry,
  type SummarizeOptions,
  summarize,
  type TimeoutOptions,
  timeout,
} from '@sluice/processors';
import { z } from 'zod';
import { ClosedError, ConfigError, SessionBusyError } from './errors.ts';
import { type Environment, PROVIDERS, type Provider, type RemoteProvider, resolveProvider } from './providers.ts';

/** The options the model processors take (`openai`, `anthropic`, `ollama`, `gemini`). */
export type ModelOptions = Parameters<typeof openai>[0];
/** The options of `fakeModel`. */
export type FakeModelOptions = Parameters<typeof fakeModel>[0];

/** Options of `createLLM` for a remote provider: the model processor's options, with defaults filled in. */
export type RemoteLLMOptions = Omit<ModelOptions, 'system'> & {
  /** Model name, e.g. 'gpt-4o-mini', 'claude-sonnet-4-5', 'llama3.2', 'gemini-2.5-flash'. Required. */
  model: string;
  /** Default: the provider's (see the README); OpenAI-compatible URLs include `/v1`. */
  baseURL?: string;
  /** Default: the provider's environment variable (OPENAI_API_KEY, ANTHROPIC_API_KEY, ...). */
  apiKey?: string;
  /**
   * The variable (in `env`) the key is read from, instead of the provider's; '' reads none. Named in
   * the hint of a 401, as the provider's own variable is by default (OPENROUTER_API_KEY for 'openrouter').
   */
  apiKeyEnv?: string;
  /** System prompt sent first on every call (before the call's own `system`). */
  system?: string;
  /** Where environment variables are read; default `process.env`. */
  env?: Environment;
  /**
   * Which OpenAI API to speak ('openai' and the OpenAI-compatible providers only): 'chat' (chat
   * completions, the default) or 'responses' (`POST /v1/responses`, see `openaiResponses`).
   */
  api?: 'chat' | 'responses';
} & FlowOptions;

/**
 * Flow control attached to the LLM: every `generate`, `stream` and session turn goes through it,
 * and `llm.processor` is the wrapped processor. Applied inside out: `timeout` bounds each attempt,
 * `retry` retries failed attempts (before the first part, or resuming with `resume`), `rateLimit`
 * spaces the calls' starts (one limiter shared by every call of this LLM).
 */
export interface FlowOptions {
  /** Options of `retry()` (`true` for its defaults). */
  retry?: RetryOptions | boolean;
  /** Options of `timeout()`. */
  timeout?: TimeoutOptions;
  /** Options of `rateLimit()`, or a `RateLimiter` to share with other processors. */
  rateLimit?: RateLimitOptions | RateLimiter;
}

/** Options of `createLLM('fake')`: an in-process deterministic model for tests and demos. */
export interface FakeLLMOptions {
  /** The answer (see `fakeModel`); default: echoes the last user message as `Echo: <text>`. */
  reply?: FakeModelOptions['reply'];
  /** Wait before each token; default 0. */
  delayMs?: number;
  /** Wait before the first token; default `delayMs`. */
  firstDelayMs?: number;
  /** Reported as `llm.model`; default 'fake'. */
  model?: string;
  system?: string;
}

/** Options of `createLLM('llama-cpp')`: llamaCpp's, and a system prompt. */
export interface LlamaCppLLMOptions extends LlamaCppOptions {
  system?: string;
}

/** Options of `llm.summarize`: the summarize processor's, without the model, and a signal. */
export type LLMSummarizeOptions = Omit<SummarizeOptions, 'model'> & { signal?: AbortSignal };

/**
 * Options of one `generate` / `stream` call. The sampling fields override the LLM's own for this
 * call only (the fake provider ignores them).
 */
export interface GenerateOptions {
  /** Aborting stops the call: the request is cancelled and the call rejects with `signal.reason`. */
  signal?: AbortSignal;
  /** System prompt for this call, after the LLM's own. */
  system?: string;
  maxTokens?: number;
  temperature?: number;
  stop?: string | readonly string[];
  tools?: ModelOptions['tools'];
  toolChoice?: ModelOptions['toolChoice'];
  logprobs?: boolean | number;
  /** Merged over the LLM's `extraBody`. */
  extraBody?: Record<string, unknown>;
  /** Merged over the LLM's headers. */
  headers?: Record<string, string>;
}

/** The per-call fields of `GenerateOptions` that change the request. */
const CALL_FIELDS = [
  'maxTokens',
  'temperature',
  'stop',
  'tools',
  'toolChoice',
  'logprobs',
  'extraBody',
  'headers',
] as const satisfies readonly (keyof GenerateOptions & keyof ModelOptions)[];

/** Token counts reported by the provider (see the processors' `Usage`: cached and reasoning tokens broken out). */
export type Usage = ModelUsage;

/** One chat message, OpenAI style; accepted wherever a prompt is. */
export interface ChatMessage {
  role: 'user' | 'assistant' | 'system' | 'tool' | 'model';
  /** Text, or OpenAI content parts of type 'text'. */
  content: string | readonly { type: 'text'; text: string }[];
}

/** A prompt: any content (text, parts, iterables of them), or a list of chat messages. */
export type Prompt = ContentLike | readonly ChatMessage[];

/** What `generate` resolves with. */
export interface GenerateResult {
  /** The answer: the text of the default substream. */
  text: string;
  /** Every part the model produced, in order: text, tool calls, reasoning and status parts. */
  parts: Part[];
  usage?: Usage;
  /** 'stop', 'length', 'tool_calls', 'content_filter', ... as reported on the final status part. */
  finishReason?: string;
}

/** A model, ready to answer prompts. */
export interface LLM extends AsyncDisposable {
  readonly provider: Provider;
  readonly model: string;
  /** The model processor behind this LLM, to use in pipelines. */
  readonly processor: Processor;
  /** Runs one prompt to the end. Rejects with the provider's typed error (after retries) or `signal.reason`. */
  generate(prompt: Prompt, options?: GenerateOptions): Promise<GenerateResult>;
  /** Streams one prompt's answer part by part (tokens as they arrive); runs when iterated. */
  stream(prompt: Prompt, options?: GenerateOptions): PartStream;
  /** A conversation that remembers its turns. */
  session(options?: SessionOptions): Session;
  /**
   * Summarizes the document parts of `input` (text, Markdown, PDF) with this model (see the
   * processors' `summarize`): the text is the summary, usage that of the final call.
   */
  summarize(input: ContentLike, options?: LLMSummarizeOptions): Promise<GenerateResult>;
  /** Stops every call still running (they reject with `ClosedError`) and refuses new ones. Idempotent. */
  close(): Promise<void>;
}

/** Options of `llm.session()`. */
export interface SessionOptions {
  /** System prompt of every turn (not stored in the history). */
  system?: string;
  /** Earlier turns to start from. */
  history?: readonly Part[];
}

/**
 * Creates an LLM for `provider` with its usual defaults: base URL (option,
 * then the provider's environment variable, then its public endpoint) and
 * API key (option, then OPENAI_API_KEY / ANTHROPIC_API_KEY / GEMINI_API_KEY
 * or GOOGLE_API_KEY / OPENROUTER_API_KEY). Throws `MissingAPIKeyError`,
 * naming the variable, when the provider's own service would be called
 * without a key; a baseURL elsewhere (local server, proxy) needs none.
 */
export function createLLM(provider: 'fake', options?: FakeLLMOptions): LLM;
export function createLLM(provider: 'llama-cpp', options: LlamaCppLLMOptions): LLM;
export function createLLM(provider: RemoteProvider, options: RemoteLLMOptions): LLM;
export function createLLM(provider: Provider, options?: RemoteLLMOptions | FakeLLMOptions | LlamaCppLLMOptions): LLM;
export function createLLM(
  provider: Provider,
  options: RemoteLLMOptions | FakeLLMOptions | LlamaCppLLMOptions = {} as FakeLLMOptions,
): LLM {
  if (!PROVIDERS.includes(provider)) {
    throw new ConfigError(
      `createLLM: unknown provider ${JSON.stringify(provider)}`,
      `use one of ${PROVIDERS.map((p) => `'${p}'`).join(', ')}`,
    );
  }
  if (provider === 'fake') {
    const fake = options as FakeLLMOptions;
    const model = fake.model ?? 'fake';
    const p = fakeModel({
      reply: fake.reply ?? echo,
      delayMs: fake.delayMs,
      firstDelayMs: fake.firstDelayMs,
      name: `fake:${model}`,
    });
    return new ModelLLM(provider, model, () => p, fake.system);
  }
  if (provider === 'llama-cpp') {
    // In process: the model file is loaded on the first call and freed by close().
    const { system, ...local } = options as LlamaCppLLMOptions;
    if (typeof local.modelPath !== 'string' || local.modelPath === '') {
      throw new ConfigError(
        "createLLM('llama-cpp'): the modelPath option is required",
        "e.g. { modelPath: './models/qwen2.5-0.5b-instruct-q4_k_m.gguf' }",
      );
    }
    const p = llamaCpp(local);
    return new ModelLLM(provider, p.name.replace(/^llama-cpp:/, ''), () => p, system);
  }
  const {
    env,
    system,
    baseURL,
    apiKey,
    apiKeyEnv,
    retry: retryOption,
    timeout: timeoutOption,
    rateLimit: rateOption,
    api,
    ...rest
  } = options as RemoteLLMOptions;
  if (typeof rest.model !== 'string' || rest.model === '') {
    throw new ConfigError(`createLLM('${provider}'): the model option is required`, "e.g. { model: 'gpt-4o-mini' }");
  }
  const resolved = resolveProvider(provider, { baseURL, apiKey, apiKeyEnv }, env ?? process.env);
  const processorOptions: ModelOptions = {
    name: `${provider}:${rest.model}`,
    ...rest,
    baseURL: resolved.baseURL,
    apiKey: resolved.apiKey,
    // The key was resolved here; the processor only names this variable in a 401's hint.
    apiKeyEnv: resolved.apiKeyEnv,
  };
  if (api !== undefined && api !== 'chat' && api !== 'responses') {
    throw new ConfigError(`createLLM('${provider}'): unknown api ${JSON.stringify(api)}`, "use 'chat' or 'responses'");
  }
  if (api === 'responses' && resolved.wire !== 'openai') {
    throw new ConfigError(
      `createLLM('${provider}'): api 'responses' is the OpenAI Responses API, which ${provider} does not speak`,
      "leave out api, or use 'openai' (or an OpenAI-compatible provider) with api: 'responses'",
    );
  }
  const factory =
    api === 'responses'
      ? (o: ModelOptions) => openaiResponses(o)
      : { openai, anthropic, ollama, gemini }[resolved.wire];
  // One limiter for every call of this LLM, whatever its per-call options.
  const limiter =
    rateOption === undefined ? undefined : rateOption instanceof RateLimiter ? rateOption : new RateLimiter(rateOption);
  const make = (overrides: Partial<ModelOptions>): Processor => {
    let p = factory({
      ...processorOptions,
      ...overrides,
      ...(overrides.extraBody ? { extraBody: { ...processorOptions.extraBody, ...overrides.extraBody } } : {}),
      ...(overrides.headers ? { headers: { ...processorOptions.headers, ...overrides.headers } } : {}),
    });
    if (timeoutOption) p = timeout(p, timeoutOption);
    if (retryOption) p = retry(p, retryOption === true ? {} : retryOption);
    if (limiter) p = rateLimit(p, { limiter });
    return p;
  };
  return new ModelLLM(provider, rest.model, make, system);
}

/** True for a list of OpenAI-style chat messages (not parts, strings or bytes). */
function isChatMessages(value: unknown): value is readonly ChatMessage[] {
  return (
    Array.isArray(value) &&
    value.length > 0 &&
    value.every(
      (item) =>
        item !== null &&
        typeof item === 'object' &&
        !isPart(item) &&
        !(item instanceof Uint8Array) &&
        typeof (item as ChatMessage).role === 'string' &&
        'content' in item,
    )
  );
}

const chatRoles: Record<string, string> = {
  user: 'user',
  assistant: 'model',
  model: 'model',
  system: 'system',
  tool: 'tool',
};

/** Chat messages as parts: 'assistant' becomes role 'model'; throws `ConfigError` for what is not text. */
export function chatMessagesToParts(messages: readonly ChatMessage[]): Part[] {
  return messages.map((message, index) => {
    const role = chatRoles[message.role];
    if (!role) {
      throw new ConfigError(
        `message ${index}: unknown role ${JSON.stringify(message.role)}`,
        "use 'user', 'assistant', 'system' or 'tool'",
      );
    }
    const { content } = message;
    let text: string;
    if (typeof content === 'string') text = content;
    else if (Array.isArray(content) && content.every((c) => c?.type === 'text' && typeof c.text === 'string'))
      text = content.map((c) => c.text).join('');
    else {
      throw new ConfigError(
        `message ${index}: content must be a string or text parts ({ type: 'text', text })`,
        'pass images and other media as parts (dataPart) instead of chat messages',
      );
    }
    return textPart(text, { role });
  });
}

/** A prompt as content: chat messages become parts, anything else is left as it is. */
function toContent(prompt: Prompt): ContentLike {
  return isChatMessages(prompt) ? chatMessagesToParts(prompt) : (prompt as ContentLike);
}

/** The default reply of the fake provider: `Echo: ` and the text of the last user part. */
function echo(input: Part[]): string {
  const user = input.filter((p) => (p.role === '' || p.role === 'user') && p.substream === '' && p.text !== undefined);
  return `Echo: ${user.at(-1)?.text ?? ''}`;
}

/** Every part of `content`, in order (strings become text parts). */
async function collectParts(content: ContentLike): Promise<Part[]> {
  if (typeof content === 'string' || content instanceof Uint8Array || isPart(content)) return [part(content)];
  const out: Part[] = [];
  if (typeof (content as AsyncIterable<PartLike>)[Symbol.asyncIterator] === 'function') {
    for await (const item of content as AsyncIterable<PartLike>) out.push(part(item));
  } else {
    for (const item of content as Iterable<PartLike>) out.push(part(item));
  }
  return out;
}

/** `content` preceded by system parts; stays lazy (async iterables are not read before the run). */
function withSystem(systems: readonly (string | undefined)[], content: ContentLike): ContentLike {
  const prefix = systems.filter((s): s is string => !!s).map((s) => textPart(s, { role: 'system' }));
  if (prefix.length === 0) return content;
  return (async function* () {
    yield* prefix;
    if (typeof content === 'string' || content instanceof Uint8Array || isPart(content)) yield content;
    else yield* content as AsyncIterable<PartLike> | Iterable<PartLike>;
  })();
}

/** The text, usage and finish reason of a finished run. */
function resultOf(parts: Part[]): GenerateResult {
  const result: GenerateResult = { text: '', parts };
  for (const p of parts) {
    if (p.substream === '' && p.text !== undefined) result.text += p.text;
    if (p.substream === 'status') {
      const { usage, finishReason } = p.metadata as { usage?: Usage; finishReason?: string };
      if (usage) result.usage = usage;
      if (finishReason) result.finishReason = finishReason;
    }
  }
  return result;
}

class ModelLLM implements LLM {
  readonly provider: Provider;
  readonly model: string;
  readonly processor: Processor;
  readonly #system: string | undefined;
  readonly #closer = new AbortController();

  readonly #make: (overrides: Partial<ModelOptions>) => Processor;

  constructor(
    provider: Provider,
    model: string,
    make: (overrides: Partial<ModelOptions>) => Processor,
    system: string | undefined,
  ) {
    this.provider = provider;
    this.model = model;
    this.#make = make;
    this.processor = make({});
    this.#system = system;
  }

  stream(prompt: Prompt, options: GenerateOptions = {}): PartStream {
    this.#throwIfClosed();
    const input = withSystem([this.#system, options.system], toContent(prompt));
    const overrides: Partial<ModelOptions> = {};
    for (const key of CALL_FIELDS) {
      if (options[key] !== undefined) (overrides as Record<string, unknown>)[key] = options[key];
    }
    const processor = Object.keys(overrides).length > 0 ? this.#make(overrides) : this.processor;
    const closer = this.#closer.signal;
    return new PartStream({
      [Symbol.asyncIterator]: () => {
        this.#throwIfClosed();
        const signal = options.signal ? AbortSignal.any([closer, options.signal]) : closer;
        return processor(input, { signal })[Symbol.asyncIterator]();
      },
    });
  }

  async generate(prompt: Prompt, options: GenerateOptions = {}): Promise<GenerateResult> {
    return resultOf(await this.stream(prompt, options).gather());
  }

  session(options: SessionOptions = {}): Session {
    this.#throwIfClosed();
    return new Session(this, options);
  }

  async summarize(input: ContentLike, options: LLMSummarizeOptions = {}): Promise<GenerateResult> {
    const { signal, ...rest } = options;
    const stream = (parts: Part[], callSignal: AbortSignal) => this.stream(parts, { signal: callSignal });
    const model = processor(
      async function* llmCall(callInput, ctx) {
        yield* stream(await callInput.gather(), ctx.signal);
      },
      { name: `${this.provider}:${this.model}` },
    );
    return resultOf(await summarize({ ...rest, model })(input, { signal }).gather());
  }

  async close(): Promise<void> {
    if (!this.#closer.signal.aborted)
      this.#closer.abort(new ClosedError(`the LLM ${this.provider}:${this.model}`, 'createLLM()'));
    // A processor that owns resources (llamaCpp's loaded model) frees them too.
    await (this.processor as Processor & { close?: () => Promise<void> }).close?.();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #throwIfClosed(): void {
    if (this.#closer.signal.aborted) throw this.#closer.signal.reason;
  }
}

/** The saved form of a session (`session.toJSON()`), parts in their wire form. */
export const SessionJSONSchema = z.object({
  version: z.literal(1),
  system: z.string().optional(),
  history: z.array(PartSchema),
});
export type SessionJSON = z.input<typeof SessionJSONSchema>;

/**
 * A conversation with one LLM, kept as parts. Each turn sends the system
 * prompt, the whole history and the new prompt; when the answer has been read
 * to its end, the user's parts (role 'user') and the model's default-substream
 * parts are appended, with the parts carrying provider state the next request
 * must echo (Anthropic thinking signatures and server tool blocks, Gemini
 * thought signatures; see `isReplayPart`). A turn that fails or is stopped early appends nothing.
 * One turn at a time: starting a second while one runs throws `SessionBusyError`.
 */
export class Session {
  readonly llm: LLM;
  readonly system: string | undefined;
  #history: Part[];
  #busy = false;

  constructor(llm: LLM, options: SessionOptions = {}) {
    this.llm = llm;
    this.system = options.system;
    this.#history = [...(options.history ?? [])];
  }

  /** The conversation so far: user and model parts in turn order. */
  get history(): readonly Part[] {
    return this.#history;
  }

  /** True while a turn runs. */
  get busy(): boolean {
    return this.#busy;
  }

  /** One turn, read to the end; rejects with `SessionBusyError` if another turn is running. */
  async generate(prompt: Prompt, options: Omit<GenerateOptions, 'system'> = {}): Promise<GenerateResult> {
    return resultOf(await this.stream(prompt, options).gather());
  }

  /**
   * One turn, streamed. The turn starts when the stream is first read (a stream
   * never read holds nothing); it is recorded once the stream ends normally.
   */
  stream(prompt: Prompt, options: Omit<GenerateOptions, 'system'> = {}): PartStream {
    return new PartStream(this.#turn(toContent(prompt), options));
  }

  async *#turn(prompt: ContentLike, options: Omit<GenerateOptions, 'system'>): AsyncGenerator<Part> {
    // Checked before any await, so two turns started in the same tick see each other.
    if (this.#busy) throw new SessionBusyError();
    this.#busy = true;
    try {
      const user = (await collectParts(prompt)).map((p) => (p.role === '' ? part(p, { role: 'user' }) : p));
      const reply: Part[] = [];
      const input = [...this.#history, ...user];
      for await (const p of this.llm.stream(input, { ...options, system: this.system })) {
        // Provider state (thinking signatures, server tool blocks) goes back with the next turn.
        if (p.substream === '' || isReplayPart(p)) reply.push(p.role === '' ? part(p, { role: 'model' }) : p);
        yield p;
      }
      this.#history.push(...user, ...coalesceText(reply));
    } finally {
      this.#busy = false;
    }
  }

  /** Forgets every turn. Throws `SessionBusyError` while a turn runs. */
  clear(): void {
    if (this.#busy) throw new SessionBusyError();
    this.#history = [];
  }

  /** A JSON-safe snapshot: `JSON.stringify(session)` works; restore with `Session.fromJSON`. */
  toJSON(): SessionJSON {
    const json: SessionJSON = { version: 1, history: this.#history.map((p) => toJSON(p)) };
    if (this.system !== undefined) json.system = this.system;
    return json;
  }

  /** Restores a session saved with `toJSON()` (the object or its JSON text) onto `llm`; throws `ConfigError` if it is not one. */
  static fromJSON(json: unknown, llm: LLM): Session {
    let value = json;
    if (typeof json === 'string') {
      try {
        value = JSON.parse(json);
      } catch (error) {
        throw new ConfigError(`Session.fromJSON: not JSON: ${(error as Error).message}`);
      }
    }
    const result = SessionJSONSchema.safeParse(value);
    if (!result.success) {
      const where = result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
      throw new ConfigError(`Session.fromJSON: not a saved session: ${where}`, 'pass what session.toJSON() returned');
    }
    return new Session(llm, { system: result.data.system, history: result.data.history.map((p) => fromJSON(p)) });
  }
}

/**
 * Joins runs of plain token parts (same role and mimetype, no metadata, no tool call) into one
 * part, so a saved conversation holds one part per message rather than one per token.
 */
function coalesceText(parts: readonly Part[]): Part[] {
  const out: Part[] = [];
  for (const p of parts) {
    const last = out[out.length - 1];
    if (
      last &&
      isPlainText(last) &&
      isPlainText(p) &&
      last.role === p.role &&
      last.mimetype === p.mimetype &&
      last.substream === p.substream
    ) {
      out[out.length - 1] = part(last, { text: last.text! + p.text! });
    } else {
      out.push(p);
    }
  }
  return out;
}

function isPlainText(p: Part): boolean {
  return (
    p.text !== undefined &&
    p.mimetype.startsWith('text/plain') &&
    !p.toolCall &&
    !p.toolResult &&
    Object.keys(p.metadata).length === 0
  );
}
