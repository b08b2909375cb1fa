// A 401's hint names the variable the key really comes from: `apiKeyEnv` (e.g. OPENROUTER_API_KEY for
// openai() on OpenRouter) is both where the key is read and what the hint tells the user to set.

import { afterEach, describe, expect, it, vi } from 'vitest';
import { AuthenticationError } from '../src/http/errors.ts';
import { anthropic } from '../src/models/anthropic.ts';
import { ollama } from '../src/models/ollama.ts';
import { openai } from '../src/models/openai.ts';
import { startFakeModelServer } from '../src/testing/fake-server.ts';

const servers: { close(): Promise<void> }[] = [];
afterEach(async () => {
  vi.unstubAllEnvs();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function keyedServer(provider: 'openai' | 'anthropic' | 'ollama') {
  const server = await startFakeModelServer({ provider, apiKey: 'the-right-key', reply: 'ok' });
  servers.push(server);
  return server;
}

async function authError(run: Promise<unknown>): Promise<AuthenticationError> {
  const error = await run.catch((e: unknown) => e);
  expect(error).toBeInstanceOf(AuthenticationError);
  return error as AuthenticationError;
}

describe('the 401 hint names the key variable', () => {
  it('openai with apiKeyEnv names that variable, not OPENAI_API_KEY', async () => {
    const server = await keyedServer('openai');
    const model = openai({ model: 'm', baseURL: server.baseURL, apiKey: 'wrong', apiKeyEnv: 'OPENROUTER_API_KEY' });
    const error = await authError(model('Hi').gather());
    expect(error.hint).toMatch(/set OPENROUTER_API_KEY or pass apiKey/);
    expect(error.hint).not.toContain('OPENAI_API_KEY');
    expect(error.message).toContain('OPENROUTER_API_KEY');
  });

  it("apiKeyEnv '' names no variable: the hint says to pass apiKey", async () => {
    const server = await keyedServer('openai');
    const error = await authError(
      openai({ model: 'm', baseURL: server.baseURL, apiKey: 'wrong', apiKeyEnv: '' })('Hi').gather(),
    );
    expect(error.hint).toMatch(/check the API key: pass it as the apiKey option/);
    expect(error.hint).not.toMatch(/_API_KEY/);
  });

  it('by default each processor names its own variable; ollama, which reads none, says to pass apiKey', async () => {
    const openaiServer = await keyedServer('openai');
    const anthropicServer = await keyedServer('anthropic');
    const ollamaServer = await keyedServer('ollama');
    const options = { model: 'm', apiKey: 'wrong', maxRetries: 0 };
    expect((await authError(openai({ ...options, baseURL: openaiServer.baseURL })('Hi').gather())).hint).toMatch(
      /set OPENAI_API_KEY/,
    );
    expect((await authError(anthropic({ ...options, baseURL: anthropicServer.baseURL })('Hi').gather())).hint).toMatch(
      /set ANTHROPIC_API_KEY/,
    );
    expect((await authError(ollama({ ...options, baseURL: ollamaServer.baseURL })('Hi').gather())).hint).toMatch(
      /check the API key: pass it as the apiKey option/,
    );
  });

  it('the key is read from the variable apiKeyEnv names when apiKey is not given', async () => {
    const server = await keyedServer('openai');
    vi.stubEnv('OPENAI_API_KEY', 'not-this-one');
    vi.stubEnv('OPENROUTER_API_KEY', 'the-right-key');
    const text = await openai({ model: 'm', baseURL: server.baseURL, apiKeyEnv: 'OPENROUTER_API_KEY' })('Hi').text();
    expect(text).toBe('ok');
    expect(server.requests[0].headers.authorization).toBe('Bearer the-right-key');
  });
});
