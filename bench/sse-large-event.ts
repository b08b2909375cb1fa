/**
 * Images benchmark 1: one huge SSE event (a streamed base64 image is a single `data:` line of
 * megabytes) cut into many small chunks. Decoding must stay linear in the event's size: the
 * parser keeps the text after the last line end as a list of chunks and joins it once, when the
 * line ends, instead of re-copying and re-searching a growing buffer on every chunk.
 *
 * Subjects, each reading the same async iterable of `Uint8Array` chunks:
 *   decodeSSE             `for await (const e of decodeSSE(source))`
 *   eventsource-parser    `createParser({ onEvent }).feed(textDecoder.decode(chunk, { stream: true }))`
 *   baseline              `textDecoder.decode` of every chunk and one join (reading the bytes once)
 * Sizes 1 MB and 4 MB, chunks of 1 KiB (the worst case of a slow link) and 64 KiB (a socket read).
 * Targets: decodeSSE(4 MB) / decodeSSE(1 MB) <= 6 (linear is 4; quadratic would be 16), and
 * decodeSSE / baseline <= 4 at 4 MB in 1 KiB chunks.
 *
 *   pnpm exec tsx bench/sse-large-event.ts          (BENCH_REPS, BENCH_WARMUP)
 */
import { decodeSSE } from '@sluice/streams';
import { createParser } from 'eventsource-parser';
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

function eventBytes(megabytes: number): Uint8Array {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  const size = megabytes * 1024 * 1024;
  const image = Array.from({ length: size / 64 }, () => alphabet).join('');
  return new TextEncoder().encode(
    `event: image_generation.completed\ndata: {"type":"image_generation.completed","b64_json":"${image}"}\n\n`,
  );
}

function cut(bytes: Uint8Array, size: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.subarray(i, i + size));
  return out;
}

function subjects(label: string, chunks: readonly Uint8Array[], dataLength: number): Subject[] {
  return [
    {
      name: `decodeSSE ${label}`,
      run: async () => {
        let n = 0;
        for await (const event of decodeSSE(fromArray(chunks))) n += event.data.length;
        expectCount(n, dataLength, 'decodeSSE');
      },
    },
    {
      name: `eventsource-parser ${label}`,
      run: async () => {
        let n = 0;
        const parser = createParser({
          onEvent(event) {
            n += event.data.length;
          },
        });
        const decoder = new TextDecoder();
        for await (const chunk of fromArray(chunks)) parser.feed(decoder.decode(chunk, { stream: true }));
        parser.feed(decoder.decode());
        expectCount(n, dataLength, 'eventsource-parser');
      },
    },
    {
      name: `baseline ${label}`,
      run: async () => {
        const decoder = new TextDecoder();
        const texts: string[] = [];
        for await (const chunk of fromArray(chunks)) texts.push(decoder.decode(chunk, { stream: true }));
        texts.push(decoder.decode());
        const text = texts.join('');
        if (text.indexOf('\n\n') < 0) throw new Error('baseline: no event end');
      },
    },
  ];
}

export async function main(): Promise<ScenarioResult> {
  const reps = envInt('BENCH_REPS', 9);
  const warmup = envInt('BENCH_WARMUP', 2);
  const table: string[][] = [
    ['event', 'chunks', 'decodeSSE ms', 'eventsource-parser ms', 'baseline ms', 'decodeSSE / baseline'],
  ];
  const medians = new Map<string, number>();
  const meta: Record<string, unknown> = { ...machine(), reps, warmup };
  for (const chunkSize of [1024, 65536]) {
    for (const megabytes of [1, 4]) {
      const bytes = eventBytes(megabytes);
      const dataLength = bytes.length - 'event: image_generation.completed\ndata: '.length - 2;
      const chunks = cut(bytes, chunkSize);
      const label = `${megabytes} MB / ${chunkSize / 1024} KiB`;
      const s = await compare(subjects(label, chunks, dataLength), { reps, warmup, label: `sse-large-event ${label}` });
      const ours = s.get(`decodeSSE ${label}`)!.median;
      const theirs = s.get(`eventsource-parser ${label}`)!.median;
      const base = s.get(`baseline ${label}`)!.median;
      medians.set(label, ours);
      medians.set(`base ${label}`, base);
      meta[label] = Object.fromEntries([...s].map(([name, st]) => [name, st.samples]));
      table.push([
        `${megabytes} MB`,
        `${chunks.length} x ${chunkSize / 1024} KiB`,
        fmt(ours),
        fmt(theirs),
        fmt(base),
        ratio(ours / base),
      ]);
    }
  }
  const growth = medians.get('4 MB / 1 KiB')! / medians.get('1 MB / 1 KiB')!;
  const overBase = medians.get('4 MB / 1 KiB')! / medians.get('base 4 MB / 1 KiB')!;
  const result: ScenarioResult = {
    scenario: 'sse-large-event',
    title: `Images 1: one SSE event of 1 and 4 MB in many chunks, median ms of ${reps} interleaved reps`,
    table,
    checks: [
      check('decodeSSE 4 MB / 1 MB, time (1 KiB chunks; linear is 4)', growth, '<=', 6, 'x'),
      check('decodeSSE / baseline, time (4 MB in 1 KiB chunks)', overBase, '<=', 4, 'x'),
    ],
    notes: ['baseline = decoding the chunks with TextDecoder and joining them once'],
    meta,
  };
  report(result);
  return result;
}

if (isMain(import.meta.url)) await main();
