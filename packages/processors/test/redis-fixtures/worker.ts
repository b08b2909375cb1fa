// A worker process for the redis tests: serves a few part processors and records what it starts and
// stops in Redis lists, so the test process can check what ran where. Prints "ready" once serving.
// Env: REDIS_URL, CONCURRENCY, CLAIM_IDLE_MS, ROLE ('victim' holds every 'victim' part forever).

import { dataPart, debugPart, partProcessor, SluiceError, textPart } from '@sluice/core';
import { serve } from '@sluice/processors/redis';
import { createClient } from 'redis';

const url = process.env.REDIS_URL!;
const role = process.env.ROLE ?? '';
const recorder = createClient({ url, RESP: 2 });
recorder.on('error', () => {});
await recorder.connect();
const record = (list: string, value: string) => recorder.rPush(list, value);

const abortable = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
const untilAborted = (signal: AbortSignal) =>
  new Promise<void>((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
const meta = { worker: String(process.pid) };

const worker = await serve(
  {
    echo: partProcessor(async function* (part, ctx) {
      ctx.status(`echo ${part.text}`);
      yield `${part.text}:0`;
      yield debugPart(`debug ${part.text}`);
      yield `${part.text}:1`;
    }),
    // "<label>:<ms>": simulated I/O of that length, then the label (with who and when).
    slow: partProcessor(async (part, ctx) => {
      const [label, ms] = part.text!.split(':');
      await abortable(Number(ms), ctx.signal);
      return textPart(label!, { metadata: { ...meta, finishedAt: performance.timeOrigin + performance.now() } });
    }),
    // "<ms>": a long call (longer than claimIdleMs); records each start with the worker's pid.
    long: partProcessor(async (part, ctx) => {
      await record('long-started', String(process.pid));
      await abortable(Number(part.text), ctx.signal);
      return `${part.text}:done`;
    }),
    hang: partProcessor(async function* (part, ctx) {
      await record('started', part.text!);
      try {
        yield `${part.text}:first`;
        await untilAborted(ctx.signal);
      } finally {
        await record('stopped', part.text!);
      }
    }),
    victim: partProcessor(async function* (part) {
      yield `${part.text}:0`;
      if (role === 'victim') {
        await record('holding', part.text!);
        await new Promise(() => {}); // held until this process is killed
      }
      yield `${part.text}:1`;
      yield `${part.text}:2`;
    }),
    poison: partProcessor(async (part) => {
      if (part.text === 'poison') {
        await record('poisoned', String(process.pid));
        process.kill(process.pid, 'SIGKILL');
        await new Promise(() => {});
      }
      return `${part.text}:ok`;
    }),
    fail: partProcessor(async (part) => {
      throw new SluiceError('E_FIXTURE', `no good: ${part.text}`, { hint: 'fixture' });
    }),
    // Echoes a binary part doubled in size (both directions exceed the inline limit).
    bytes: partProcessor((part) => {
      const data = part.data!;
      const out = new Uint8Array(data.byteLength * 2);
      out.set(data, 0);
      out.set(data, data.byteLength);
      return dataPart(out, 'application/octet-stream', { metadata: { sum: data.reduce((a, b) => a + b, 0) } });
    }),
  },
  {
    redis: url,
    concurrency: Number(process.env.CONCURRENCY ?? 4),
    claimIdleMs: Number(process.env.CLAIM_IDLE_MS ?? 30_000),
  },
);

process.on('SIGTERM', async () => {
  await worker.close();
  await recorder.close();
  process.stdout.write('closed\n');
  process.exit(0);
});
process.stdout.write('ready\n');
