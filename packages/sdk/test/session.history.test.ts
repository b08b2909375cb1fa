import type { Part } from '@sluice/core';
import { describe, expect, it } from 'vitest';
import { BadRequestError, ConfigError, createLLM, Session, SessionBusyError } from '../src/index.ts';
import { modelServer } from './helpers.ts';

/** A fake model that answers with the number of user parts it was sent, and records its inputs. */
function countingLLM() {
  const inputs: Part[][] = [];
  const llm = createLLM('fake', {
    reply: (input) => {
      inputs.push(input);
      const users = input.filter((p) => p.role === 'user').length;
      return `reply to ${users} user turns`;
    },
  });
  return { llm, inputs };
}

const textOf = (parts: readonly Part[]) => parts.map((p) => `${p.role}:${p.text}`).join('|');

describe('Session history', () => {
  it('appends the user turn and the whole model reply, and sends the history each turn', async () => {
    const { llm, inputs } = countingLLM();
    const session = llm.session({ system: 'Be kind.' });
    expect((await session.generate('first')).text).toBe('reply to 1 user turns');
    expect((await session.generate('second')).text).toBe('reply to 2 user turns');
    const history = session.history;
    expect(history[0]).toMatchObject({ role: 'user', text: 'first' });
    expect(
      history
        .filter((p) => p.role === 'model')
        .map((p) => p.text)
        .join(''),
    ).toBe('reply to 1 user turnsreply to 2 user turns');
    expect(history.at(-1)?.role).toBe('model');
    expect(history.every((p) => p.substream === '')).toBe(true);
    // The second turn was sent the system prompt, the first turn and the new prompt.
    expect(textOf(inputs[1]).startsWith('system:Be kind.|user:first|model:reply')).toBe(true);
    expect(inputs[1].at(-1)).toMatchObject({ role: 'user', text: 'second' });
    // The system prompt is not part of the history.
    expect(history.some((p) => p.role === 'system')).toBe(false);
  });

  it('a streamed reply read to its end is appended', async () => {
    const { llm } = countingLLM();
    const session = llm.session();
    let streamed = '';
    for await (const p of session.stream('hi')) if (p.substream === '') streamed += p.text;
    expect(streamed).toBe('reply to 1 user turns');
    expect(session.history.map((p) => p.text).join('')).toBe(`hi${streamed}`);
  });

  it('keeps one part per message: the streamed tokens of a reply are joined', async () => {
    const { llm } = countingLLM();
    const session = llm.session();
    let tokens = 0;
    for await (const p of session.stream('hi')) if (p.substream === '') tokens++;
    expect(tokens).toBeGreaterThan(1);
    expect(session.history.map((p) => `${p.role}:${p.text}`)).toEqual(['user:hi', 'model:reply to 1 user turns']);
  });

  it('a stream stopped early appends nothing', async () => {
    const { llm } = countingLLM();
    const session = llm.session();
    for await (const p of session.stream('hi')) {
      if (p.text === 'reply') break;
    }
    expect(session.history).toEqual([]);
    expect(session.busy).toBe(false);
  });

  it('a failed reply appends nothing and the next turn works', async () => {
    const server = await modelServer({
      provider: 'openai',
      reply: 'fine',
      fail: { status: 400, message: 'bad input' },
    });
    const llm = createLLM('openai', { model: 'm', baseURL: server.baseURL, env: {} });
    const session = llm.session();
    await expect(session.generate('one')).rejects.toBeInstanceOf(BadRequestError);
    expect(session.history).toEqual([]);
    expect(session.busy).toBe(false);
    expect((await session.generate('two')).text).toBe('fine');
    expect(textOf(session.history)).toBe('user:two|model:fine');
    // The failed turn was not sent again.
    expect(server.requests[1].messages).toEqual([{ role: 'user', text: 'two' }]);
  });

  it('a reply that fails mid-stream appends nothing', async () => {
    const server = await modelServer({
      provider: 'openai',
      reply: 'one two three',
      streamError: { after: 1, message: 'boom' },
      faultyRequests: 1,
    });
    const llm = createLLM('openai', { model: 'm', baseURL: server.baseURL, env: {}, maxRetries: 0 });
    const session = llm.session();
    const seen: string[] = [];
    await expect(
      (async () => {
        for await (const p of session.stream('go')) if (p.substream === '') seen.push(p.text ?? '');
      })(),
    ).rejects.toThrow(/boom/);
    expect(seen).toEqual(['one']);
    expect(session.history).toEqual([]);
  });

  it('refuses a second turn while one runs, with a clear error', async () => {
    const { llm } = countingLLM();
    const session = llm.session();
    const [first, second] = await Promise.allSettled([session.generate('a'), session.generate('b')]);
    expect(first.status).toBe('fulfilled');
    expect(second.status).toBe('rejected');
    const error = (second as PromiseRejectedResult).reason;
    expect(error).toBeInstanceOf(SessionBusyError);
    expect(error.message).toMatch(/a turn is already in progress/);
    expect(session.history.map((p) => p.text).join('')).toBe('areply to 1 user turns');
  });

  it('refuses a turn while a stream is being read, and accepts one after it ended', async () => {
    const server = await modelServer({ provider: 'openai', reply: 'slow answer', holdAfter: 1 });
    const llm = createLLM('openai', { model: 'm', baseURL: server.baseURL, env: {} });
    const session = llm.session();
    const iterator = session.stream('first')[Symbol.asyncIterator]();
    expect((await iterator.next()).value?.text).toBe('slow');
    expect(session.busy).toBe(true);
    await expect(session.generate('second')).rejects.toBeInstanceOf(SessionBusyError);
    server.release();
    while (!(await iterator.next()).done) {
      // drain
    }
    expect(session.busy).toBe(false);
    await session.generate('second');
    expect(session.history.filter((p) => p.role === 'user').map((p) => p.text)).toEqual(['first', 'second']);
  });

  it('a stream that is never read does not hold the session', async () => {
    const { llm } = countingLLM();
    const session = llm.session();
    session.stream('never read');
    expect((await session.generate('read')).text).toBe('reply to 1 user turns');
  });
});

describe('Session save and restore', () => {
  it('toJSON / Session.fromJSON round-trips the history and the system prompt', async () => {
    const { llm, inputs } = countingLLM();
    const session = llm.session({ system: 'Be kind.' });
    await session.generate('first');
    const saved = JSON.stringify(session);
    const restored = Session.fromJSON(saved, llm);
    expect(restored.system).toBe('Be kind.');
    expect(restored.history.map((p) => ({ role: p.role, text: p.text, mimetype: p.mimetype }))).toEqual(
      session.history.map((p) => ({ role: p.role, text: p.text, mimetype: p.mimetype })),
    );
    expect((await restored.generate('second')).text).toBe('reply to 2 user turns');
    expect(inputs[1][0]).toMatchObject({ role: 'system', text: 'Be kind.' });
    // The original is unchanged by the restored session's turn.
    expect(session.history.filter((p) => p.role === 'user')).toHaveLength(1);
  });

  it('restores binary parts', async () => {
    const llm = createLLM('fake', { reply: 'ok' });
    const session = llm.session({
      history: [{ mimetype: 'image/png', data: new Uint8Array([1, 2, 3]), role: 'user', substream: '', metadata: {} }],
    });
    const restored = Session.fromJSON(session.toJSON(), llm);
    expect(restored.history[0].data).toEqual(new Uint8Array([1, 2, 3]));
  });

  it('fromJSON refuses what is not a saved session, naming the problem', () => {
    const llm = createLLM('fake');
    expect(() => Session.fromJSON({ version: 2, history: [] }, llm)).toThrow(ConfigError);
    expect(() => Session.fromJSON({ version: 1, history: [{ text: 'x' }] }, llm)).toThrow(/history\.0\.mimetype/);
    expect(() => Session.fromJSON('{not json', llm)).toThrow(/not JSON/);
  });

  it('clear() forgets the history', async () => {
    const { llm } = countingLLM();
    const session = llm.session();
    await session.generate('a');
    session.clear();
    expect(session.history).toEqual([]);
  });
});
