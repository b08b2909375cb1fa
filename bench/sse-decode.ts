/**
 * Models benchmark 1: SSE decoding throughput, our `decodeSSE` (@sluice/streams) against
 * `eventsource-parser` in the same run, on the same bytes.
 *
 * The input is a recorded-style OpenAI chat completion stream (one JSON chunk per token, UTF-8
 * text with accents, CJK and emoji) cut into byte chunks. Every subject reads the same async
 * iterable of `Uint8Array` chunks and counts the events. Two pairs, each like for like:
 *   async iterables (what a model client consumes):
 *     decodeSSE                 `for await (const e of decodeSSE(source))`
 *     eventsource-parser stream `ReadableStream.from(source).pipeThrough(TextDecoderStream)
 *                                  .pipeThrough(EventSourceParserStream)`, `for await` over it
 *   bare parsers with a callback per event (no async hop per event):
 *     SSEParser                 `parser.feed(textDecoder.decode(chunk, { stream: true }), onEvent)`
 *     eventsource-parser        `createParser({ onEvent }).feed(textDecoder.decode(chunk, { stream: true }))`
 * Two chunkings: network-like (1-4 KiB) and tiny (7-64 B, many events split across chunks).
 * Targets: time ratio ours / theirs <= 1.0 for both pairs. Also printed: decodeSSE against the
 * callback parser, i.e. what an async iterable of events costs over a bare callback.
 *
 *   pnpm exec tsx bench/sse-decode.ts            (BENCH_REPS, BENCH_WARMUP, BENCH_SSE_EVENTS)
 */
import { decodeSSE, SSEParser } from '@sluice/streams';
import { createParser } from 'eventsource-parser';
import { EventSourceParserStream } from 'eventsource-parser/stream';
import { encodeReply } from '../packages/processors/src/testing/wire.ts';
import {
  check,
  compare,
  envInt,
  expectCount,
  fmt,
  fromArray,
  isMain,
  machine,
  ratio,
  report,
  type ScenarioResult,
  type Subject,
} from './harness.ts';

const EVENTS = envInt('BENCH_SSE_EVENTS', 50_000);
const words = [
  'Grüße',
  ' aus',
  ' 東京',
  ' 🗼',
  ' and',
  ' the',
  ' quick',
  ' brown',
  ' fox',
  ' jumps',
  ' über',
  ' naïve',
];

/** A deterministic PRNG (mulberry32), so every run cuts the bytes the same way. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function streamBytes(): { bytes: Uint8Array; events: number } {
  const text = Array.from({ length: EVENTS }, (_, i) => words[i % words.length]!);
  const chunks = encodeReply('openai', { text }, { model: 'gpt-bench' });
  return { bytes: new TextEncoder().encode(chunks.map((c) => c.data).join('')), events: chunks.length };
}

function cut(bytes: Uint8Array, min: number, max: number, seed: number): Uint8Array[] {
  const next = random(seed);
  const out: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; ) {
    const size = min + Math.floor(next() * (max - min + 1));
    out.push(bytes.slice(i, i + size));
    i += size;
  }
  return out;
}

export function subjects(chunks: readonly Uint8Array[], events: number): Subject[] {
  return [
    {
      name: 'decodeSSE',
      run: async () => {
        let n = 0;
        for await (const event of decodeSSE(fromArray(chunks))) if (event.data.length > 0) n++;
        expectCount(n, events, 'decodeSSE');
      },
    },
    {
      name: 'eventsource-parser stream',
      run: async () => {
        let n = 0;
        // ReadableStream.from and async iteration of web streams are in Node 20, not in TypeScript's DOM lib.
        const web = ReadableStream as unknown as {
          from(source: AsyncIterable<Uint8Array>): ReadableStream<Uint8Array>;
        };
        const stream = web
          .from(fromArray(chunks))
          .pipeThrough(new TextDecoderStream() as unknown as TransformStream<Uint8Array, string>)
          .pipeThrough(new EventSourceParserStream()) as unknown as AsyncIterable<{ data: string }>;
        for await (const event of stream) if (event.data.length > 0) n++;
        expectCount(n, events, 'eventsource-parser stream');
      },
    },
    {
      name: 'SSEParser',
      run: async () => {
        let n = 0;
        const parser = new SSEParser();
        const onEvent = (event: { data: string }) => {
          if (event.data.length > 0) n++;
        };
        const decoder = new TextDecoder();
        for await (const chunk of fromArray(chunks)) parser.feed(decoder.decode(chunk, { stream: true }), onEvent);
        parser.feed(decoder.decode(), onEvent);
        expectCount(n, events, 'SSEParser');
      },
    },
    {
      name: 'eventsource-parser',
      run: async () => {
        let n = 0;
        const parser = createParser({
          onEvent(event) {
            if (event.data.length > 0) n++;
          },
        });
        const decoder = new TextDecoder();
        for await (const chunk of fromArray(chunks)) parser.feed(decoder.decode(chunk, { stream: true }));
        parser.feed(decoder.decode());
        expectCount(n, events, 'eventsource-parser');
      },
    },
  ];
}

export async function main(): Promise<ScenarioResult> {
  const reps = envInt('BENCH_REPS', 15);
  const warmup = envInt('BENCH_WARMUP', 3);
  const { bytes, events } = streamBytes();
  const chunkings = [
    { name: 'network chunks 1-4 KiB', chunks: cut(bytes, 1024, 4096, 1) },
    { name: 'tiny chunks 7-64 B', chunks: cut(bytes, 7, 64, 2) },
  ];
  const table: string[][] = [
    [
      'chunking',
      'chunks',
      'decodeSSE ms',
      'esp stream ms',
      'decodeSSE / esp stream',
      'SSEParser ms',
      'esp callback ms',
      'SSEParser / esp callback',
      'decodeSSE / esp callback',
      'decodeSSE MB/s',
    ],
  ];
  const checks = [];
  const meta: Record<string, unknown> = { ...machine(), events, bytes: bytes.length, reps, warmup };
  const mb = bytes.length / 1e6;
  for (const { name, chunks } of chunkings) {
    const s = await compare(subjects(chunks, events), { reps, warmup, label: `sse-decode ${name}` });
    const ours = s.get('decodeSSE')!.median;
    const theirs = s.get('eventsource-parser stream')!.median;
    const oursSync = s.get('SSEParser')!.median;
    const theirsSync = s.get('eventsource-parser')!.median;
    meta[name] = Object.fromEntries([...s].map(([subject, st]) => [subject, st.samples]));
    table.push([
      name,
      String(chunks.length),
      fmt(ours),
      fmt(theirs),
      ratio(ours / theirs),
      fmt(oursSync),
      fmt(theirsSync),
      ratio(oursSync / theirsSync),
      ratio(ours / theirsSync),
      fmt(mb / (ours / 1000), 1),
    ]);
    checks.push(check(`decodeSSE / eventsource-parser stream, time (${name})`, ours / theirs, '<=', 1, 'x'));
    checks.push(check(`SSEParser / eventsource-parser callback, time (${name})`, oursSync / theirsSync, '<=', 1, 'x'));
  }
  const result: ScenarioResult = {
    scenario: 'sse-decode',
    title: `Models 1: decoding an SSE stream of ${events.toLocaleString('en-US')} events (${fmt(mb, 1)} MB), median ms of ${reps} interleaved reps`,
    table,
    checks,
    notes: [
      'esp = eventsource-parser 4; "stream" pairs are async iterables of events, "callback" pairs parse without an async hop per event',
    ],
    meta,
  };
  report(result);
  return result;
}

if (isMain(import.meta.url)) await main();
