/**
 * Batch processing with a concurrency limit and partial failures, two ways. First, many prompts
 * through one model: a `partProcessor` with `concurrency: 3` keeps at most three requests in
 * flight and yields the answers in input order; `catchErrors` turns a failed request (here the
 * fake server rejects two of them with 400) into an exception part in that prompt's place, so the
 * other answers still arrive. Second, `client.vectors.batchLoad` downloads packages from the
 * registry two at a time; an unknown id and a corrupt file (sha256 mismatch) come back as
 * `success: false` results instead of rejecting the batch. Everything runs against local servers.
 * Run: `pnpm exec tsx examples/batch.ts` (files go to out/examples/batch/).
 */
import { fileURLToPath } from 'node:url';
import { catchErrors, EXCEPTION_MIMETYPE, partProcessor } from '@sluice/core';
import { type FakeFailure, startFakeModelServer } from '@sluice/processors/testing';
import { Client, createLLM, type LoadResult } from '@sluice/sdk';
import { startRegistryServer } from '@sluice/sdk/testing';

export const TICKETS = [
  'Printer on floor 3 is jammed again',
  'VPN drops every 10 minutes',
  'Need access to the billing dashboard',
  'Laptop fan is very loud',
  'Password reset email never arrives',
  'Projector in room B has no signal',
  'Slack notifications are delayed',
  'Request for a second monitor',
  'Disk almost full on build server',
  'Cannot join the Wi-Fi as a guest',
];

/** Requests (in arrival order) that the fake model server rejects with 400. */
const REJECTED_REQUESTS = [3, 7];

export interface BatchAnswer {
  ticket: string;
  ok: boolean;
  /** The answer, or the error as `<name>: <message>`. */
  text: string;
}

export interface BatchResult {
  answers: BatchAnswer[];
  /** Most model requests in flight at once. */
  maxInFlight: number;
  /** The tickets of the requests the server rejected. */
  rejectedTickets: string[];
  loads: LoadResult[];
  /** Most file downloads the registry served at once. */
  maxActiveDownloads: number;
}

export async function main(
  log: (line: string) => void = console.log,
  options: { concurrency?: number; outputDir?: string } = {},
): Promise<BatchResult> {
  const concurrency = options.concurrency ?? 3;
  const outputDir = options.outputDir ?? fileURLToPath(new URL('../out/examples/batch/', import.meta.url));
  const fail: FakeFailure[] = [];
  for (const i of REJECTED_REQUESTS) fail[i] = { status: 400, message: 'the prompt was rejected by a filter' };
  const model = await startFakeModelServer({
    provider: 'openai',
    reply: (request) => `Triage: ${request.messages.at(-1)?.text.toLowerCase()} -> IT queue.`,
    delayMs: 8,
    fail,
  });
  const registry = await startRegistryServer({
    // One package whose served bytes do not match its advertised sha256.
    packages: (defaults) => defaults.map((p) => (p.id === 'vec-cheerful' ? { ...p, fault: 'corrupt' as const } : p)),
  });
  const llm = createLLM('openai', { model: 'gpt-4o-mini', baseURL: model.baseURL, env: {} });
  const client = new Client({ baseURL: registry.baseURL, apiKey: registry.apiKey, cacheDir: outputDir, env: {} });
  try {
    // 1. Many prompts, `concurrency` at a time, answers in input order, failures in their place.
    log(`1. ${TICKETS.length} tickets through one model, ${concurrency} at a time`);
    let inFlight = 0;
    let maxInFlight = 0;
    const triage = partProcessor(
      async (part, ctx) => {
        maxInFlight = Math.max(maxInFlight, ++inFlight);
        try {
          return (await llm.generate(part.text!, { signal: ctx.signal })).text;
        } finally {
          inFlight--;
        }
      },
      { name: 'triage', concurrency },
    );
    const parts = await catchErrors(triage)(TICKETS).gather();
    const answers = parts.map((p, i): BatchAnswer => {
      const ok = p.mimetype !== EXCEPTION_MIMETYPE;
      log(`   ${ok ? 'ok    ' : 'FAILED'} #${i + 1} ${ok ? p.text : `${TICKETS[i]}: ${p.text}`}`);
      return { ticket: TICKETS[i]!, ok, text: p.text ?? '' };
    });
    const rejectedTickets = REJECTED_REQUESTS.map((i) => model.requests[i]?.messages.at(-1)?.text ?? '');
    log(`   ${answers.filter((a) => a.ok).length} answered, ${answers.filter((a) => !a.ok).length} failed`);
    log(`   at most ${maxInFlight} requests in flight`);

    // 2. batchLoad: never rejects for one package; each result says what happened.
    const packageIds = ['vec-formal', 'vec-does-not-exist', 'vec-pirate', 'vec-cheerful', 'vec-concise'];
    log(`2. batchLoad of ${packageIds.length} packages, 2 at a time`);
    const loads = await client.vectors.batchLoad({
      packageIds,
      outputDir,
      maxConcurrency: 2,
      onLoaded: (r) => log(`   finished ${r.packageId}: ${r.success ? 'ok' : 'failed'}`),
    });
    log('   results, in input order:');
    for (const r of loads)
      log(`   ${r.success ? 'ok    ' : 'FAILED'} ${r.packageId}${r.success ? '' : `: ${r.error}`}`);
    log(`   the registry never served more than ${registry.maxActiveDownloads} downloads at once (limit 2)`);
    return { answers, maxInFlight, rejectedTickets, loads, maxActiveDownloads: registry.maxActiveDownloads };
  } finally {
    await llm.close();
    await client.close();
    await Promise.all([model.close(), registry.close()]);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
