import type { TransportOptions } from '../http/transport.ts';
import type { ToolSpec } from './messages.ts';

/** Options shared by the model processors (`openai`, `anthropic`, `ollama`, `gemini`). */
export interface ModelOptions extends TransportOptions {
  /** Model name, e.g. 'gpt-4o-mini', 'claude-sonnet-4-5', 'llama3.2', 'gemini-2.5-flash'. */
  model: string;
  /** Provider base URL, as in the provider's official SDK (see each processor). */
  baseURL?: string;
  /** API key; defaults to the provider's environment variable (see `apiKeyEnv`). Never appears in errors. */
  apiKey?: string;
  /**
   * The environment variable holding the key: read when `apiKey` is not given, and named in the hint
   * of a 401. Default: the provider's (`OPENAI_API_KEY`, `ANTHROPIC_API_KEY`, `GEMINI_API_KEY` then
   * `GOOGLE_API_KEY`; none for `ollama`). Set it when the processor talks to another service, e.g.
   * `'OPENROUTER_API_KEY'` for `openai` on OpenRouter; `''` means none (the hint says to pass `apiKey`).
   */
  apiKeyEnv?: string;
  /** System prompt, placed before the text of 'system' input parts. */
  system?: string;
  temperature?: number;
  /** Maximum output tokens. */
  maxTokens?: number;
  /** Stop sequences. */
  stop?: string | readonly string[];
  /** Tools the model may call; calls come out as parts with `toolCall`. */
  tools?: readonly ToolSpec[];
  /** 'auto' (default), 'none', 'required', or one tool by name. */
  toolChoice?: 'auto' | 'none' | 'required' | { name: string };
  /**
   * Ask for the log probabilities of the output tokens (OpenAI-compatible `logprobs`, Gemini
   * `responseLogprobs`); a number also asks for that many alternatives per token. They arrive as
   * `metadata.logprobs` on the text parts, in the provider's own shape.
   */
  logprobs?: boolean | number;
  /** Extra request body fields, merged last (e.g. `{ top_p: 0.9 }`, Anthropic `thinking`, Ollama `options`). */
  extraBody?: Record<string, unknown>;
  /** Extra request headers. */
  headers?: Record<string, string>;
  /** Retries after the first attempt for transient failures (connection errors, 408, 409, 429, 5xx, early error events). Default 2. */
  maxRetries?: number;
  /** Alias of `maxRetries`. */
  retries?: number;
  /** Processor name; default the provider name and model, e.g. 'openai:gpt-4o-mini'. */
  name?: string;
}

/** The stop option as an array (undefined when absent). */
export function stopList(stop: string | readonly string[] | undefined): string[] | undefined {
  if (stop === undefined) return undefined;
  return typeof stop === 'string' ? [stop] : [...stop];
}

/** Joins a base URL and a path without doubling or losing the slash. */
export function joinURL(base: string, path: string): string {
  return `${base.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;
}
