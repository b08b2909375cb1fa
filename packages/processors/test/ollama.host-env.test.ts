// OLLAMA_HOST is read the way Ollama's own clients read it: the scheme and the port are optional
// (http and 11434 when absent), so OLLAMA_HOST=127.0.0.1 reaches port 11434, never port 80.

import { afterEach, describe, expect, it, vi } from 'vitest';
import { ollama } from '../src/models/ollama.ts';
import { ollamaCall, ollamaHostURL } from '../src/models/wire/ollama.ts';
import { userText } from './model-helpers.ts';
import { useServer } from './model-suite.ts';

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('OLLAMA_HOST', () => {
  const start = useServer('ollama');

  it.each([
    ['127.0.0.1', 'http://127.0.0.1:11434'],
    ['localhost', 'http://localhost:11434'],
    ['0.0.0.0', 'http://0.0.0.0:11434'],
    ['ollama.internal:8080', 'http://ollama.internal:8080'],
    ['ollama.internal:80', 'http://ollama.internal'],
    [':8080', 'http://127.0.0.1:8080'],
    ['[::1]', 'http://[::1]:11434'],
    ['http://127.0.0.1:11434/', 'http://127.0.0.1:11434'],
    ['http://ollama.internal', 'http://ollama.internal'],
    ['https://ollama.example.com', 'https://ollama.example.com'],
    ['https://ollama.example.com:8443/prefix/', 'https://ollama.example.com:8443/prefix'],
    [' 127.0.0.1 ', 'http://127.0.0.1:11434'],
  ])('%j is %s', (host, url) => {
    expect(ollamaHostURL(host)).toBe(url);
  });

  it('refuses what is not a host, naming the variable', () => {
    expect(() => ollamaHostURL('ftp://x')).toThrow(/OLLAMA_HOST "ftp:\/\/x" is not a host/);
    expect(() => ollamaHostURL('http://')).toThrow(TypeError);
  });

  it('the ollama processor sends to port 11434 when OLLAMA_HOST names no port', () => {
    vi.stubEnv('OLLAMA_HOST', '127.0.0.1');
    expect(ollamaCall([userText('Hi')], { model: 'llama3.2' }).request.url).toBe('http://127.0.0.1:11434/api/chat');
    vi.stubEnv('OLLAMA_HOST', 'gpu-box');
    expect(ollamaCall([userText('Hi')], { model: 'llama3.2' }).request.url).toBe('http://gpu-box:11434/api/chat');
  });

  it('reaches a real server named by OLLAMA_HOST without a scheme', async () => {
    const server = await start({ reply: ['Hello', ' there'] });
    vi.stubEnv('OLLAMA_HOST', new URL(server.origin).host);
    expect(await ollama({ model: 'llama3.2' })('Hi').text()).toBe('Hello there');
    expect(server.requests[0].path).toBe('/api/chat');
  });
});
