/**
 * A conversation that remembers, saved and restored: `llm.session()` keeps the turns as parts and
 * sends them with each new prompt, whether the answer was awaited (`generate`) or streamed token
 * by token (`stream`); a second turn started while one runs is refused with `SessionBusyError`;
 * `JSON.stringify(session)` saves it to a file and `Session.fromJSON` restores it onto a new LLM,
 * as after a restart. The model is a local fake OpenAI-compatible server whose answers depend on
 * what it is sent, so its memory is visible. Run: `pnpm exec tsx examples/sessions.ts` (writes
 * out/examples/session.json).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type FakeMessage, type RecordedRequest, startFakeModelServer } from '@sluice/processors/testing';
import { createLLM, Session, SessionBusyError } from '@sluice/sdk';

/** A tiny "model" that can only answer from the conversation it is sent. */
function assistant(request: RecordedRequest): string {
  const users = request.messages.filter((m: FakeMessage) => m.role === 'user').map((m) => m.text);
  const said = users.join(' ');
  const name = /\bI am (\w+)/i.exec(said)?.[1];
  const work = /\bI build ([\w\s]+?)[.!]/i.exec(said)?.[1];
  const question = users.at(-1) ?? '';
  if (/\bI am\b/i.test(question)) return `Nice to meet you, ${name}!`;
  if (/my name/i.test(question) && /what do I build/i.test(question) && name && work)
    return `You are ${name} and you build ${work}.`;
  if (/what do I build/i.test(question)) return work ? `You build ${work}.` : 'You have not told me.';
  if (/my name/i.test(question)) return name ? `Your name is ${name}.` : 'I do not know your name.';
  return 'Tell me more.';
}

export interface SessionsResult {
  answers: string[];
  busyError: unknown;
  savedFile: string;
  /** Messages the server received with the last question (system, history and the question). */
  lastRequestMessages: readonly FakeMessage[];
}

export async function main(
  log: (line: string) => void = console.log,
  options: { file?: string } = {},
): Promise<SessionsResult> {
  const file = options.file ?? fileURLToPath(new URL('../out/examples/session.json', import.meta.url));
  const server = await startFakeModelServer({ provider: 'openai', reply: assistant, delayMs: 5 });
  const connect = () => createLLM('openai', { model: 'gpt-4o-mini', baseURL: server.baseURL, env: {} });
  const answers: string[] = [];
  try {
    const llm = connect();
    const chat = llm.session({ system: 'You are a friendly assistant. Be brief.' });

    // Turn 1, awaited as a whole.
    const first = await chat.generate('Hi, I am Ada and I build sluice gates.');
    answers.push(first.text);
    log(`user: Hi, I am Ada and I build sluice gates.\nmodel: ${first.text}`);

    // Turn 2, streamed token by token; recorded in the history once read to the end.
    log('user: What do I build?');
    let second = '';
    const tokens: string[] = [];
    for await (const part of chat.stream('What do I build?')) {
      if (part.substream !== '' || part.text === undefined) continue;
      tokens.push(part.text);
      second += part.text;
    }
    answers.push(second);
    log(`model (${tokens.length} tokens): ${tokens.join('|')}`);

    // One turn at a time: a turn started while another runs is refused.
    const running = chat.generate('And what is my name?');
    let busyError: unknown;
    try {
      await chat.generate('Hello?');
    } catch (error) {
      busyError = error;
      log(`a second turn at the same time: ${error instanceof SessionBusyError ? error.code : 'accepted?!'}`);
    }
    answers.push((await running).text);
    log(`model: ${answers.at(-1)}`);

    // Save, close, and restore onto a new LLM, as another process would.
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, JSON.stringify(chat, null, 2));
    log(`saved ${chat.history.length} parts to ${file}`);
    await llm.close();

    const llm2 = connect();
    try {
      const restored = Session.fromJSON(await readFile(file, 'utf8'), llm2);
      log(`restored ${restored.history.length} parts (system prompt: ${JSON.stringify(restored.system)})`);
      const fourth = await restored.generate('Remind me: what is my name, and what do I build?');
      answers.push(fourth.text);
      log(`user: Remind me: what is my name, and what do I build?\nmodel: ${fourth.text}`);
    } finally {
      await llm2.close();
    }
    return { answers, busyError, savedFile: file, lastRequestMessages: server.requests.at(-1)!.messages };
  } finally {
    await server.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
