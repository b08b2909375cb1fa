// createLLM('ollama') and the ollama processor read OLLAMA_HOST with one implementation
// (`ollamaHostURL` of @sluice/processors): scheme and port optional, as Ollama's own clients.

import { configOf, ollamaHostURL } from '@sluice/processors';
import { describe, expect, it } from 'vitest';
import { ConfigError, createLLM } from '../src/index.ts';

const baseURLOf = (host: string) =>
  configOf(createLLM('ollama', { model: 'llama3.2', env: { OLLAMA_HOST: host } }).processor)?.baseURL;

describe('createLLM ollama and OLLAMA_HOST', () => {
  it.each([
    ['127.0.0.1', 'http://127.0.0.1:11434'],
    ['gpu-box:8080', 'http://gpu-box:8080'],
    [':8080', 'http://127.0.0.1:8080'],
    ['http://gpu-box', 'http://gpu-box'],
    ['https://ollama.example.com/', 'https://ollama.example.com'],
  ])('%j is %s, as the processor reads it', (host, url) => {
    expect(baseURLOf(host)).toBe(url);
    expect(ollamaHostURL(host)).toBe(url);
  });

  it('a value that is not a host is a ConfigError naming OLLAMA_HOST', () => {
    expect(() => baseURLOf('ftp://x')).toThrow(ConfigError);
    expect(() => baseURLOf('ftp://x')).toThrow(/OLLAMA_HOST "ftp:\/\/x"/);
  });
});
