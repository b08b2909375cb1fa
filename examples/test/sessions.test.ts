import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SessionBusyError, SessionJSONSchema } from '@sluice/sdk';
import { afterEach, describe, expect, it } from 'vitest';
import { main } from '../sessions.ts';

let dir: string | undefined;
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('examples/sessions.ts', () => {
  it('remembers earlier turns, refuses concurrent turns, and survives a save and restore', async () => {
    dir = await mkdtemp(join(tmpdir(), 'sluice-sessions-'));
    const file = join(dir, 'session.json');
    const lines: string[] = [];
    const result = await main((line) => lines.push(line), { file });

    // Each answer needs the earlier turns: the fake model only knows what it is sent.
    expect(result.answers).toEqual([
      'Nice to meet you, Ada!',
      'You build sluice gates.',
      'Your name is Ada.',
      'You are Ada and you build sluice gates.',
    ]);
    expect(result.busyError).toBeInstanceOf(SessionBusyError);
    expect(lines).toContain('model (4 tokens): You| build| sluice| gates.');

    // The saved file is a valid session: system prompt kept, user and model turns in order.
    const saved = SessionJSONSchema.parse(JSON.parse(await readFile(file, 'utf8')));
    expect(saved.system).toBe('You are a friendly assistant. Be brief.');
    const roles = saved.history.map((p) => p.role);
    expect(roles[0]).toBe('user');
    expect(new Set(roles)).toEqual(new Set(['user', 'model']));
    expect(saved.history.filter((p) => p.role === 'user').map((p) => p.text)).toEqual([
      'Hi, I am Ada and I build sluice gates.',
      'What do I build?',
      'And what is my name?',
    ]);

    // After the restore, the request carried the system prompt, the three saved turns and the question.
    const messages = result.lastRequestMessages;
    expect(messages[0]).toEqual({ role: 'system', text: 'You are a friendly assistant. Be brief.' });
    expect(messages.filter((m) => m.role === 'user').map((m) => m.text)).toEqual([
      'Hi, I am Ada and I build sluice gates.',
      'What do I build?',
      'And what is my name?',
      'Remind me: what is my name, and what do I build?',
    ]);
    expect(messages.filter((m) => m.role === 'assistant').map((m) => m.text)).toEqual(result.answers.slice(0, 3));
  });
});
