/**
 * Surviving a flaky provider with the flow processors, against local fake servers (real HTTP on
 * loopback, OpenAI wire format). First, a server that is overloaded (503 with `Retry-After`) for
 * its first two requests: `retry()` waits exactly what the server asked and the third attempt
 * answers. Second, a stream that stalls after three tokens: `timeout({ idleMs })` fails the run
 * with `ProcessorTimeoutError` and closes the connection instead of hanging for ever. Third, both
 * together: `retry(timeout(model))` resumes the stalled answer (the text so far is sent back as a
 * prefill) and the reader gets the whole answer once, without repeated words. The model's own
 * retries are turned off (`maxRetries: 0`) so that `retry()` owns the budget.
 * Run: `pnpm exec tsx examples/retry-timeout.ts`.
 */
import type { Part, Processor } from '@sluice/core';
import { openai, ProcessorTimeoutError, retry, timeout } from '@sluice/processors';
import { type FakeModelServer, startFakeModelServer } from '@sluice/processors/testing';

export const ANSWER = 'A sluice gate controls the flow of water in a channel.';

export interface RetryTimeoutOptions {
  /** What the overloaded server sends in `Retry-After`; default 1 (second). */
  retryAfterSeconds?: number;
  /** The idle limit of `timeout`; default 500 ms. */
  idleMs?: number;
}

export interface RetryTimeoutResult {
  /** Part 1: the answer after two 503s, the requests the server got, the waits announced by retry(). */
  overloaded: { text: string; requests: number; retryDelaysMs: number[]; elapsedMs: number };
  /** Part 2: the tokens before the stall, the error, whether the server saw the connection closed. */
  stalled: { tokens: string[]; error: unknown; connectionClosed: boolean; elapsedMs: number };
  /** Part 3: the answer of retry(timeout(model)) and the prefill the second request carried. */
  resumed: { text: string; requests: number; prefill: string | undefined };
}

const model = (server: FakeModelServer): Processor =>
  openai({ model: 'gpt-4o-mini', baseURL: server.baseURL, apiKey: 'not-needed', maxRetries: 0 });

export async function main(
  log: (line: string) => void = console.log,
  options: RetryTimeoutOptions = {},
): Promise<RetryTimeoutResult> {
  const retryAfterSeconds = options.retryAfterSeconds ?? 1;
  const idleMs = options.idleMs ?? 500;
  const signal = AbortSignal.timeout(20_000);
  const servers: FakeModelServer[] = [];
  const start = async (...args: Parameters<typeof startFakeModelServer>) => {
    const server = await startFakeModelServer(...args);
    servers.push(server);
    return server;
  };

  try {
    // 1. Overloaded: 503 + Retry-After twice, then an answer. retry() honours the header.
    log(`1. a server answering 503 (Retry-After: ${retryAfterSeconds}) to its first two requests`);
    const busy = await start({
      provider: 'openai',
      reply: ANSWER,
      fail: { status: 503, headers: { 'retry-after': String(retryAfterSeconds) }, message: 'overloaded', times: 2 },
    });
    let started = Date.now();
    const retryDelaysMs: number[] = [];
    let text = '';
    for await (const part of retry(model(busy), { maxRetries: 3 })('What does a sluice gate do?', { signal })) {
      if (part.substream === 'status' && typeof part.metadata.retry === 'number') {
        retryDelaysMs.push(part.metadata.delayMs as number);
        log(`   status: ${part.text}`);
      } else if (part.substream === '') text += part.text ?? '';
    }
    const overloaded = { text, requests: busy.requests.length, retryDelaysMs, elapsedMs: Date.now() - started };
    log(`   answer after ${overloaded.requests} requests and ${overloaded.elapsedMs} ms: ${text}`);

    // 2. Stalled: three tokens, then silence with the connection open. timeout() gives up after idleMs.
    log(`2. a stream that stalls after three tokens, with timeout({ idleMs: ${idleMs} })`);
    const stalling = await start({ provider: 'openai', reply: ANSWER, delayMs: 10, stallAfter: 3 });
    started = Date.now();
    const tokens: string[] = [];
    let error: unknown;
    try {
      for await (const part of timeout(model(stalling), { idleMs })('What does a sluice gate do?', { signal })) {
        if (part.substream === '' && part.text) tokens.push(part.text);
      }
    } catch (caught) {
      error = caught;
    }
    const closed = await stalling.requests[0]!.closed;
    const stalled = { tokens, error, connectionClosed: !closed.finished, elapsedMs: Date.now() - started };
    log(`   got ${JSON.stringify(tokens.join(''))}, then after ${stalled.elapsedMs} ms:`);
    log(
      `   ${error instanceof ProcessorTimeoutError ? `${error.name} (${error.code}, ${error.limit})` : 'no error?!'}: ${(error as Error)?.message}`,
    );
    log(`   the server saw the connection ${stalled.connectionClosed ? 'closed by the client' : 'finish'}`);

    // 3. Both: the stalled attempt is resumed; only the new text is passed on.
    log('3. retry(timeout(model)): the stalled answer is resumed where it stopped');
    const flaky = await start({ provider: 'openai', reply: ANSWER, delayMs: 10, stallAfter: 3, faultyRequests: 1 });
    const robust = retry(timeout(model(flaky), { idleMs }), { maxRetries: 2, initialRetryDelayMs: 50 });
    let resumedText = '';
    for await (const part of robust('What does a sluice gate do?', { signal }) as AsyncIterable<Part>) {
      // The model's final status part has empty text; its metadata holds usage and finish reason.
      if (part.substream === 'status') log(`   status: ${part.text || `finished: ${part.metadata.finishReason}`}`);
      else resumedText += part.text ?? '';
    }
    const second = flaky.requests[1]?.messages.at(-1);
    const resumed = {
      text: resumedText,
      requests: flaky.requests.length,
      prefill: second?.role === 'assistant' ? second.text : undefined,
    };
    log(`   second request carried the prefill ${JSON.stringify(resumed.prefill)}`);
    log(`   answer (${resumed.requests} requests, no repeated words): ${resumedText}`);
    return { overloaded, stalled, resumed };
  } finally {
    await Promise.all(servers.map((server) => server.close()));
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
