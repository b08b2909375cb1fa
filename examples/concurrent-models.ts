/**
 * Three concurrent model calls and two concurrent streams, against local fake model servers
 * (real HTTP on loopback speaking the OpenAI, Anthropic and Ollama wire formats), printing each
 * token the moment it arrives.
 *
 * Shows: the openai / anthropic / ollama processors sharing one keep-alive pool, `.text()` for
 * whole answers, iterating a PartStream for tokens, the final status part carrying `usage` and
 * `finishReason`, and bounding everything with one AbortSignal. No API key or network needed.
 * Run: `pnpm exec tsx examples/concurrent-models.ts`.
 */
import type { Part, Processor } from '@sluice/core';
import { anthropic, ollama, openai } from '@sluice/processors';
import { type FakeModelServer, startFakeModelServer } from '@sluice/processors/testing';

const answers: Record<string, string> = {
  'What is a sluice?': 'A sluice is a channel with a gate that controls the flow of water.',
  'Name three rivers.': 'The Nile, the Amazon and the Danube.',
  'Say hello in Japanese.': 'こんにちは (konnichiwa).',
};

function reply(request: { messages: readonly { text: string }[] }): string {
  const question = request.messages.at(-1)?.text ?? '';
  return answers[question] ?? `You said: ${question}`;
}

/** Prints one line per event; `log` is replaceable so the test can read the output. */
export async function main(log: (line: string) => void = console.log): Promise<void> {
  const servers: FakeModelServer[] = await Promise.all([
    startFakeModelServer({ provider: 'openai', reply, delayMs: 15 }),
    startFakeModelServer({ provider: 'anthropic', reply, delayMs: 10 }),
    startFakeModelServer({ provider: 'ollama', reply, delayMs: 20 }),
  ]);
  const [openaiServer, anthropicServer, ollamaServer] = servers;
  const models: Record<string, Processor> = {
    openai: openai({ model: 'gpt-4o-mini', baseURL: openaiServer!.baseURL, apiKey: 'not-needed' }),
    anthropic: anthropic({ model: 'claude-sonnet-4-5', baseURL: anthropicServer!.baseURL, apiKey: 'not-needed' }),
    ollama: ollama({ model: 'llama3.2', baseURL: ollamaServer!.baseURL }),
  };
  const signal = AbortSignal.timeout(20_000);
  const start = Date.now();
  const at = () => `${String(Date.now() - start).padStart(4)} ms`;

  try {
    // 1. Three concurrent calls, each awaited as a whole answer.
    log('three concurrent calls:');
    const questions = Object.keys(answers);
    const whole = await Promise.all(
      Object.entries(models).map(async ([name, model], i) => {
        const text = await model(questions[i]!, { signal }).text();
        log(`${at()}  ${name.padEnd(9)} answered: ${text}`);
        return text;
      }),
    );
    log(`all ${whole.length} answers in ${Date.now() - start} ms (in parallel, not one after the other)`);

    // 2. Two concurrent streams, printing every token as it arrives.
    log('two concurrent streams:');
    const stream = async (name: string, model: Processor, question: string) => {
      let usage: unknown;
      for await (const part of model(question, { signal }) as AsyncIterable<Part>) {
        if (part.substream === '' && part.text !== undefined)
          log(`${at()}  ${name.padEnd(9)} token ${JSON.stringify(part.text)}`);
        if (part.substream === 'status' && part.metadata.usage) usage = part.metadata;
      }
      const { usage: tokens, finishReason } = usage as {
        usage: { inputTokens: number; outputTokens: number };
        finishReason: string;
      };
      log(
        `${at()}  ${name.padEnd(9)} done: ${finishReason}, ${tokens.inputTokens} input / ${tokens.outputTokens} output tokens`,
      );
    };
    await Promise.all([
      stream('openai', models.openai!, 'What is a sluice?'),
      stream('anthropic', models.anthropic!, 'Name three rivers.'),
    ]);
  } finally {
    await Promise.all(servers.map((server) => server.close()));
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
