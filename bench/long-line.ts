/**
 * Streams benchmark: one very long line (a base64 image, as a model sends it) fed in 16 KiB
 * chunks, at 1, 4, 8 and 16 MiB. The cost of decoding it must grow linearly with its length.
 *
 * Subjects, each reading the same array of `Uint8Array` chunks:
 *   decodeSSE            `for await` over `decodeSSE(source)`; the stream is `data: <line>\n\n`
 *   SSEParser            the bare parser, `feed(textDecoder.decode(chunk, { stream: true }), onEvent)`
 *   eventsource-parser   `createParser({ onEvent }).feed(...)`, the same way (the baseline)
 *   decodeNDJSON         `for await` over `decodeNDJSON(source)`; the stream is `{"image":"<line>"}\n`
 *   one-shot JSON        the NDJSON baseline: `Buffer.concat(chunks)`, one UTF-8 decode, one
 *                        `JSON.parse` (the least work any decoder has to do)
 * Targets (the issue asks for time linear in the line's length, next to eventsource-parser): each
 * decoder's same-run ratio to its baseline grows by at most 2x from 1 MiB to 16 MiB (a quadratic
 * decoder's would grow ~16x; the ratio cancels the machine's drift and the GC's extra cost of
 * large heaps, which hits every subject), and at 16 MiB decodeSSE takes <= 2x eventsource-parser.
 * Also printed: ms per MiB at each size.
 *
 *   pnpm exec tsx bench/long-line.ts            (BENCH_REPS, BENCH_WARMUP, BENCH_LONG_LINE_MIB=1,4,8,16)
 */
import { decodeNDJSON, decodeSSE, SSEParser } from '@sluice/streams';
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
  pairedRatio,
  ratio,
  report,
  type ScenarioResult,
  type Subject,
} from './harness.ts';

const CHUNK = 16 * 1024;
const MiB = 1024 * 1024;
const SIZES = (process.env.BENCH_LONG_LINE_MIB ?? '1,4,8,16').split(',').map(Number);

/** `mib` MiB of base64 text (deterministic). */
function base64Line(mib: number): string {
  const raw = Buffer.alloc((mib * MiB * 3) / 4);
  for (let i = 0; i < raw.length; i++) raw[i] = (i * 2654435761) >>> 24;
  return raw.toString('base64');
}

function chunked(text: string): Uint8Array[] {
  const bytes = new TextEncoder().encode(text);
  const out: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += CHUNK) out.push(bytes.subarray(i, i + CHUNK));
  return out;
}

export function subjects(line: string): Subject[] {
  const sse = chunked(`data: ${line}\n\n`);
  const ndjson = chunked(`{"image":"${line}"}\n`);
  const expectLine = (data: string, where: string) => {
    if (data.length !== line.length) throw new Error(`${where}: a line of ${data.length} chars, not ${line.length}`);
  };
  return [
    {
      name: 'decodeSSE',
      run: async () => {
        let n = 0;
        for await (const event of decodeSSE(fromArray(sse))) {
          expectLine(event.data, 'decodeSSE');
          n++;
        }
        expectCount(n, 1, 'decodeSSE');
      },
    },
    {
      name: 'SSEParser',
      run: async () => {
        let n = 0;
        const parser = new SSEParser();
        const onEvent = (event: { data: string }) => {
          expectLine(event.data, 'SSEParser');
          n++;
        };
        const decoder = new TextDecoder();
        for await (const chunk of fromArray(sse)) parser.feed(decoder.decode(chunk, { stream: true }), onEvent);
        parser.feed(decoder.decode(), onEvent);
        expectCount(n, 1, 'SSEParser');
      },
    },
    {
      name: 'eventsource-parser',
      run: async () => {
        let n = 0;
        const parser = createParser({
          onEvent(event) {
            expectLine(event.data, 'eventsource-parser');
            n++;
          },
        });
        const decoder = new TextDecoder();
        for await (const chunk of fromArray(sse)) parser.feed(decoder.decode(chunk, { stream: true }));
        parser.feed(decoder.decode());
        expectCount(n, 1, 'eventsource-parser');
      },
    },
    {
      name: 'decodeNDJSON',
      run: async () => {
        let n = 0;
        for await (const value of decodeNDJSON<{ image: string }>(fromArray(ndjson))) {
          expectLine(value.image, 'decodeNDJSON');
          n++;
        }
        expectCount(n, 1, 'decodeNDJSON');
      },
    },
    {
      name: 'one-shot JSON',
      run: async () => {
        const parts: Uint8Array[] = [];
        for await (const chunk of fromArray(ndjson)) parts.push(chunk);
        const value = JSON.parse(Buffer.concat(parts).toString('utf8')) as { image: string };
        expectLine(value.image, 'one-shot JSON');
      },
    },
  ];
}

const NAMES = ['decodeSSE', 'SSEParser', 'eventsource-parser', 'decodeNDJSON', 'one-shot JSON'];

export async function main(): Promise<ScenarioResult> {
  const reps = envInt('BENCH_REPS', 7);
  const warmup = envInt('BENCH_WARMUP', 1);
  const table: string[][] = [
    [
      'line MiB',
      'chunks',
      ...NAMES.map((n) => `${n} ms`),
      'decodeSSE / esp',
      'SSEParser / esp',
      'decodeNDJSON / one-shot',
    ],
  ];
  const perMiB = new Map<string, Map<number, number>>(NAMES.map((n) => [n, new Map()]));
  /** Same-run ratios (median over reps of ours / baseline in that rep), per size. */
  const PAIRS = [
    ['decodeSSE', 'eventsource-parser'],
    ['SSEParser', 'eventsource-parser'],
    ['decodeNDJSON', 'one-shot JSON'],
  ] as const;
  const ratios = new Map<string, Map<number, number>>(PAIRS.map(([a]) => [a, new Map()]));
  const meta: Record<string, unknown> = { ...machine(), reps, warmup, chunkBytes: CHUNK, sizes: SIZES };
  const checks = [];
  for (const mib of SIZES) {
    const line = base64Line(mib);
    const s = await compare(subjects(line), { reps, warmup, label: `long-line ${mib} MiB` });
    meta[`${mib} MiB`] = Object.fromEntries([...s].map(([subject, st]) => [subject, st.samples]));
    const ms = (name: string) => s.get(name)!.median;
    for (const name of NAMES) perMiB.get(name)!.set(mib, ms(name) / mib);
    for (const [a, b] of PAIRS) ratios.get(a)!.set(mib, pairedRatio(s.get(a)!, s.get(b)!));
    table.push([
      String(mib),
      String(Math.ceil((line.length + 8) / CHUNK)),
      ...NAMES.map((n) => fmt(ms(n))),
      ...PAIRS.map(([a]) => ratio(ratios.get(a)!.get(mib)!)),
    ]);
  }
  const smallest = Math.min(...SIZES);
  const largest = Math.max(...SIZES);
  for (const [a, b] of PAIRS) {
    const r = ratios.get(a)!;
    checks.push(
      check(
        `${a} / ${b}: ratio at ${largest} MiB / ratio at ${smallest} MiB`,
        r.get(largest)! / r.get(smallest)!,
        '<=',
        2,
        'x',
      ),
    );
  }
  checks.push(
    check(`decodeSSE / eventsource-parser at ${largest} MiB`, ratios.get('decodeSSE')!.get(largest)!, '<=', 2, 'x'),
  );
  const result: ScenarioResult = {
    scenario: 'long-line',
    title: `Streams: one long line in ${CHUNK / 1024} KiB chunks, median ms of ${reps} interleaved reps`,
    table,
    checks,
    notes: [
      'esp = eventsource-parser 4 (callback parser); SSE input is `data: <base64>\\n\\n`, NDJSON input `{"image":"<base64>"}\\n`',
      'ratios are medians over reps of the two times in the same rep',
      `ms per MiB, ${SIZES.join(' / ')} MiB: ${NAMES.map((n) => `${n} ${SIZES.map((m) => fmt(perMiB.get(n)!.get(m)!)).join(' / ')}`).join('; ')}`,
    ],
    meta,
  };
  report(result);
  return result;
}

if (isMain(import.meta.url)) await main();
