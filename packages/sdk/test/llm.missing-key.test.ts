import { describe, expect, it } from 'vitest';
import { ConfigError, createLLM, MissingAPIKeyError } from '../src/index.ts';

function missingKey(fn: () => unknown): MissingAPIKeyError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(MissingAPIKeyError);
    return error as MissingAPIKeyError;
  }
  throw new Error('expected MissingAPIKeyError');
}

describe('createLLM without an API key', () => {
  it.each([
    ['openai', 'OPENAI_API_KEY'],
    ['anthropic', 'ANTHROPIC_API_KEY'],
    ['openrouter', 'OPENROUTER_API_KEY'],
  ] as const)('%s names %s', (provider, variable) => {
    const error = missingKey(() => createLLM(provider, { model: 'm', env: {} }));
    expect(error.code).toBe('E_MISSING_API_KEY');
    expect(error.variables).toEqual([variable]);
    expect(error.message).toContain(variable);
    expect(error.message).toContain('apiKey');
  });

  it('gemini names GEMINI_API_KEY and GOOGLE_API_KEY', () => {
    const error = missingKey(() => createLLM('gemini', { model: 'm', env: {} }));
    expect(error.variables).toEqual(['GEMINI_API_KEY', 'GOOGLE_API_KEY']);
    expect(error.message).toContain('GEMINI_API_KEY (or GOOGLE_API_KEY)');
  });

  it('an empty variable counts as missing', () => {
    missingKey(() => createLLM('openai', { model: 'm', env: { OPENAI_API_KEY: '' } }));
  });

  it('local providers and a baseURL pointing elsewhere need no key', () => {
    for (const provider of ['lmstudio', 'vllm', 'ollama'] as const) {
      expect(() => createLLM(provider, { model: 'm', env: {} })).not.toThrow();
    }
    expect(() => createLLM('openai', { model: 'm', baseURL: 'http://127.0.0.1:9/v1', env: {} })).not.toThrow();
    expect(() => createLLM('anthropic', { model: 'm', baseURL: 'http://127.0.0.1:9', env: {} })).not.toThrow();
  });

  it('an explicit apiKey wins over the environment', () => {
    expect(() => createLLM('openai', { model: 'm', apiKey: 'sk-given', env: {} })).not.toThrow();
  });
});

describe('createLLM configuration errors', () => {
  it("'openai-compatible' requires a baseURL", () => {
    expect(() => createLLM('openai-compatible', { model: 'm', env: {} })).toThrow(ConfigError);
    expect(() => createLLM('openai-compatible', { model: 'm', env: {} })).toThrow(/baseURL option is required/);
  });

  it('the model is required for remote providers', () => {
    expect(() => createLLM('openai', { apiKey: 'k', env: {} } as never)).toThrow(/model option is required/);
  });

  it('an unknown provider lists the known ones', () => {
    expect(() => createLLM('nope' as never, { model: 'm' })).toThrow(/unknown provider "nope".*'openai'/);
  });

  it('a base URL that is not absolute is refused', () => {
    expect(() => createLLM('vllm', { model: 'm', baseURL: 'localhost:8000', env: {} })).toThrow(
      /not an absolute http\(s\) URL/,
    );
  });
});
