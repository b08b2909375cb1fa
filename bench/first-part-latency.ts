/**
 * Models benchmark 2: the latency our openai processor adds between the first byte of a stream
 * on the socket and the first part at the consumer, against a bare undici `request` reading the
 * same stream.
 *
 * A loopback node:http server answers each POST with SSE headers, waits until the client is
 * blocked reading the body (20 ms), then stamps t0 = performance.now() and writes the first
 * event (the role-only chunk and the first token in one write), then the rest. In the same
 * process, the client stamps t1 when it has:
 *   bare undici  the first body chunk of `request(...)` (no parsing at all)
 *   openai()     the first text part from `openai({ baseURL })(prompt)`: undici, idle timer,
 *                UTF-8 + SSE decoding, JSON.parse, the chunk decoder, the part, the core run
 * Both read whole streams (keep-alive connections reused) and alternate, many iterations.
 * Target: median(openai) - median(bare) < 0.5 ms.
 *
 *   pnpm exec tsx bench/first-part-latency.ts    (BENCH_REPS = iterations per subject, BENCH_WARMUP)
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { openai } from '@sluice/processors';
import { Agent, request } from 'undici';
import { encodeReply } from '../packages/processors/src/testing/wire.ts';
import { check, envInt, fmt, isMain, machine, median, report, type ScenarioResult, sleep } from './harness.ts';

const HOLD_MS = 20;

export async function main(): Promise<ScenarioResult> {
  const iterations = envInt('BENCH_REPS', 300);
  const warmup = envInt('BENCH_WARMUP', 30);
  const wire = encodeReply('openai', { text: 'Hello there, how are you today?' }, { model: 'bench' }).map(
    (c) => c.data,
  );
  const firstWrite = wire[0]! + wire[1]!;
  const rest = wire.slice(2).join('');
  let t0 = 0;

  const server = createServer(async (req, res) => {
    for await (const _ of req);
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.flushHeaders();
    await sleep(HOLD_MS);
    t0 = performance.now();
    res.write(firstWrite);
    setImmediate(() => res.end(rest));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;
  const body = JSON.stringify({ model: 'bench', messages: [{ role: 'user', content: 'hi' }], stream: true });
  const bareAgent = new Agent({ keepAliveTimeout: 10_000 });

  const bare = async (): Promise<number> => {
    const response = await request(`${origin}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
      dispatcher: bareAgent,
    });
    let t1 = 0;
    for await (const _ of response.body) if (t1 === 0) t1 = performance.now();
    return t1 - t0;
  };
  const model = openai({ model: 'bench', baseURL: `${origin}/v1`, apiKey: 'bench' });
  const ours = async (): Promise<number> => {
    let t1 = 0;
    for await (const part of model('hi')) if (t1 === 0 && part.text) t1 = performance.now();
    return t1 - t0;
  };

  for (let i = 0; i < warmup; i++) {
    await bare();
    await ours();
  }
  const samples = { bare: [] as number[], ours: [] as number[] };
  for (let i = 0; i < iterations; i++) {
    if (i % 2 === 0) {
      samples.bare.push(await bare());
      samples.ours.push(await ours());
    } else {
      samples.ours.push(await ours());
      samples.bare.push(await bare());
    }
  }
  await bareAgent.close();
  server.closeAllConnections();
  server.close();

  const p90 = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length * 0.9)]!;
  const bareMedian = median(samples.bare);
  const oursMedian = median(samples.ours);
  const overhead = oursMedian - bareMedian;
  const result: ScenarioResult = {
    scenario: 'first-part-latency',
    title: `Models 2: first byte on the socket -> first part at the consumer (${iterations} alternating iterations each, ms)`,
    table: [
      ['subject', 'median ms', 'p90 ms', 'min ms'],
      [
        'bare undici request (first body chunk)',
        fmt(bareMedian, 3),
        fmt(p90(samples.bare), 3),
        fmt(Math.min(...samples.bare), 3),
      ],
      [
        'openai() processor (first text part)',
        fmt(oursMedian, 3),
        fmt(p90(samples.ours), 3),
        fmt(Math.min(...samples.ours), 3),
      ],
      ['overhead (median difference)', fmt(overhead, 3), '', ''],
    ],
    checks: [check('openai() first-part overhead over bare undici, median', overhead, '<=', 0.5, 'ms')],
    notes: ['server and client share one process and one clock; t0 is stamped right before the first write'],
    meta: { ...machine(), iterations, warmup, samples },
  };
  report(result);
  return result;
}

if (isMain(import.meta.url)) await main();
