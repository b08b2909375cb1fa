// A 401 from a provider reached through the openai wire format names that provider's key variable
// (OPENROUTER_API_KEY, VLLM_API_KEY), or says to pass apiKey when the provider has none, never the
// OPENAI_API_KEY of the processor underneath.

import { describe, expect, it } from 'vitest';
import { AuthenticationError, createLLM, MissingAPIKeyError, type Provider } from '../src/index.ts';
import { modelServer } from './helpers.ts';

async function hintOf(
  provider: Provider,
  options: { apiKey?: string; apiKeyEnv?: string; env?: Record<string, string> },
) {
  const server = await modelServer({ provider: 'openai', apiKey: 'the-right-key', reply: 'ok' });
  const llm = createLLM(provider, { model: 'm', baseURL: server.baseURL, env: {}, ...options });
  const error = await llm.generate('Hi').catch((e: unknown) => e);
  expect(error).toBeInstanceOf(AuthenticationError);
  return (error as AuthenticationError).hint ?? '';
}

describe('the 401 hint of createLLM names the right key variable', () => {
  it.each([
    ['openrouter', /set OPENROUTER_API_KEY or pass apiKey/],
    ['vllm', /set VLLM_API_KEY or pass apiKey/],
    ['openai', /set OPENAI_API_KEY or pass apiKey/],
    ['lmstudio', /check the API key: pass it as the apiKey option/],
    ['openai-compatible', /check the API key: pass it as the apiKey option/],
  ] as const)('%s: %s', async (provider, hint) => {
    const text = await hintOf(provider, { apiKey: 'wrong' });
    expect(text).toMatch(hint);
    if (provider !== 'openai') expect(text).not.toContain('OPENAI_API_KEY');
  });

  it('apiKeyEnv names another variable: the key is read from it (in env) and the hint names it', async () => {
    const server = await modelServer({ provider: 'openai', apiKey: 'the-right-key', reply: 'ok' });
    const llm = createLLM('openai-compatible', {
      model: 'm',
      baseURL: server.baseURL,
      apiKeyEnv: 'MY_SERVER_KEY',
      env: { MY_SERVER_KEY: 'the-right-key', OPENAI_API_KEY: 'not-this-one' },
    });
    expect((await llm.generate('Hi')).text).toBe('ok');
    expect(server.requests[0].headers.authorization).toBe('Bearer the-right-key');
    expect(await hintOf('openai-compatible', { apiKeyEnv: 'MY_SERVER_KEY', env: { MY_SERVER_KEY: 'wrong' } })).toMatch(
      /set MY_SERVER_KEY or pass apiKey/,
    );
  });

  it("apiKeyEnv '' on a provider's own service with no key: MissingAPIKeyError says to pass apiKey", () => {
    const error = (() => {
      try {
        createLLM('openai', { model: 'm', apiKeyEnv: '', env: { OPENAI_API_KEY: 'ignored' } });
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(MissingAPIKeyError);
    expect((error as MissingAPIKeyError).variables).toEqual([]);
    expect((error as MissingAPIKeyError).message).toBe(
      "createLLM('openai'): no API key was given (pass the apiKey option)",
    );
  });
});
