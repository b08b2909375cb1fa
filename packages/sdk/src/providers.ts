// The providers `createLLM` knows: which model processor speaks their wire
// format, their default base URL, and where their API key comes from. Keys
// are required only when talking to the provider's own service: a baseURL
// pointing elsewhere (a proxy, a local server, a test server) may need none.

import { ollamaHostURL } from '@sluice/processors';
import { ConfigError, MissingAPIKeyError } from './errors.ts';

/** Every provider name `createLLM` accepts. */
export const PROVIDERS = [
  'openai',
  'anthropic',
  'ollama',
  'gemini',
  'lmstudio',
  'openrouter',
  'vllm',
  'openai-compatible',
  'fake',
  'llama-cpp',
] as const;
export type Provider = (typeof PROVIDERS)[number];
/** The providers reached over HTTP (every provider but the in-process ones). */
export type RemoteProvider = Exclude<Provider, 'fake' | 'llama-cpp'>;

/** How one provider is reached. */
export interface ProviderDefaults {
  /** The model processor that speaks its wire format. */
  readonly wire: 'openai' | 'anthropic' | 'ollama' | 'gemini';
  /** Default base URL, in the form its processor expects (OpenAI-compatible: up to `/v1`; others: the origin). */
  readonly baseURL: string | undefined;
  /** Environment variable that overrides the base URL, as in the provider's official SDK. */
  readonly baseURLVariable?: string;
  /** Environment variables holding the key, first one preferred. */
  readonly keyVariables: readonly string[];
  /** Whether the provider's own service refuses requests without a key. */
  readonly keyRequired: boolean;
}

/** The defaults of each remote provider. */
export const PROVIDER_DEFAULTS: Readonly<Record<RemoteProvider, ProviderDefaults>> = {
  openai: {
    wire: 'openai',
    baseURL: 'https://api.openai.com/v1',
    baseURLVariable: 'OPENAI_BASE_URL',
    keyVariables: ['OPENAI_API_KEY'],
    keyRequired: true,
  },
  anthropic: {
    wire: 'anthropic',
    baseURL: 'https://api.anthropic.com',
    baseURLVariable: 'ANTHROPIC_BASE_URL',
    keyVariables: ['ANTHROPIC_API_KEY'],
    keyRequired: true,
  },
  gemini: {
    wire: 'gemini',
    baseURL: 'https://generativelanguage.googleapis.com',
    keyVariables: ['GEMINI_API_KEY', 'GOOGLE_API_KEY'],
    keyRequired: true,
  },
  openrouter: {
    wire: 'openai',
    baseURL: 'https://openrouter.ai/api/v1',
    keyVariables: ['OPENROUTER_API_KEY'],
    keyRequired: true,
  },
  ollama: {
    wire: 'ollama',
    baseURL: 'http://localhost:11434',
    baseURLVariable: 'OLLAMA_HOST',
    keyVariables: ['OLLAMA_API_KEY'],
    keyRequired: false,
  },
  lmstudio: { wire: 'openai', baseURL: 'http://localhost:1234/v1', keyVariables: [], keyRequired: false },
  vllm: { wire: 'openai', baseURL: 'http://localhost:8000/v1', keyVariables: ['VLLM_API_KEY'], keyRequired: false },
  'openai-compatible': { wire: 'openai', baseURL: undefined, keyVariables: [], keyRequired: false },
};

/** Environment variables, as `process.env`. */
export type Environment = Readonly<Record<string, string | undefined>>;

/** What a remote provider resolves to: the processor, base URL and key to use. */
export interface ResolvedProvider {
  readonly wire: ProviderDefaults['wire'];
  readonly baseURL: string;
  /** '' when there is no key: the processors then send no auth header (and read no environment variable). */
  readonly apiKey: string;
  /**
   * The variable the key is read from for this provider ('' when it has none, e.g. 'lmstudio'): given
   * to the processor as `apiKeyEnv`, so a 401's hint names it (OPENROUTER_API_KEY, not OPENAI_API_KEY).
   */
  readonly apiKeyEnv: string;
}

/** The origin of an http(s) URL, or undefined for anything else. */
function originOf(url: string): string | undefined {
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? parsed.origin : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The base URL and key for `provider`: options first, then the provider's
 * environment variables, then its defaults. Throws `MissingAPIKeyError`
 * (naming the variable) when the provider's own service is addressed without
 * a key, and `ConfigError` when 'openai-compatible' has no baseURL.
 */
export function resolveProvider(
  provider: RemoteProvider,
  options: { baseURL?: string; apiKey?: string; apiKeyEnv?: string },
  env: Environment,
): ResolvedProvider {
  const defaults = PROVIDER_DEFAULTS[provider];
  if (defaults === undefined) {
    throw new ConfigError(
      `createLLM: unknown provider ${JSON.stringify(provider)}`,
      `use one of ${PROVIDERS.map((p) => `'${p}'`).join(', ')}`,
    );
  }
  const fromEnv = defaults.baseURLVariable ? env[defaults.baseURLVariable] : undefined;
  let baseURL = options.baseURL ?? (fromEnv || undefined) ?? defaults.baseURL;
  if (baseURL === undefined) {
    throw new ConfigError(
      `createLLM('${provider}'): the baseURL option is required`,
      "pass the server's OpenAI-compatible base URL, up to and including /v1, e.g. { baseURL: 'http://127.0.0.1:8080/v1' }",
    );
  }
  if (provider === 'ollama' && options.baseURL === undefined && fromEnv) {
    // Read like Ollama's own clients do (scheme and port optional), by the same helper as the ollama processor.
    try {
      baseURL = ollamaHostURL(fromEnv);
    } catch (error) {
      throw new ConfigError(`createLLM('ollama'): ${(error as Error).message}`);
    }
  }
  if (originOf(baseURL) === undefined) {
    throw new ConfigError(
      `createLLM('${provider}'): baseURL ${JSON.stringify(baseURL)} is not an absolute http(s) URL`,
    );
  }
  // `apiKeyEnv` replaces the provider's variables ('' for none).
  const keyVariables =
    options.apiKeyEnv === undefined ? defaults.keyVariables : options.apiKeyEnv ? [options.apiKeyEnv] : [];
  let apiKey = options.apiKey;
  if (apiKey === undefined) {
    for (const variable of keyVariables) {
      if (env[variable]) {
        apiKey = env[variable];
        break;
      }
    }
  }
  const ownService = defaults.baseURL !== undefined && originOf(baseURL) === originOf(defaults.baseURL);
  if (!apiKey && defaults.keyRequired && ownService) {
    throw new MissingAPIKeyError(`createLLM('${provider}')`, keyVariables);
  }
  return { wire: defaults.wire, baseURL, apiKey: apiKey ?? '', apiKeyEnv: keyVariables[0] ?? '' };
}
