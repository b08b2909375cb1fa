/**
 * Images benchmark 2: a streamed image of 3 partial and 1 final 1.5 MB PNG, the time our
 * `openaiImages({ partialImages: 3 })` takes from the last byte of the final event on the socket
 * to the final image part at the consumer, next to the work that cannot be avoided on the same
 * bytes: a bare `JSON.parse` of the event's data and a base64 decode of its `b64_json`.
 *
 * A loopback node:http server answers each POST /v1/images/generations with SSE headers, the
 * three `image_generation.partial_image` events; once the client has taken them in (it says so:
 * the third preview part, or the bare client's byte count), the `image_generation.completed`
 * event without its last two bytes (the blank line that ends the event); then it waits until
 * the client has read that and is blocked (HOLD_MS), stamps t0 = performance.now() and writes the
 * last two bytes. In the same process the client stamps t1:
 *   bare undici     at the end of the body of `request(...)` (no parsing: the transport floor)
 *   openaiImages()  at the final image part: SSE join of the event's chunks, JSON.parse,
 *                   base64 decode, the PNG signature check, the part, the core run
 * Both read whole streams over kept-alive connections and alternate. In the same iterations,
 * `JSON.parse` of the final event's data and `Buffer.from(b64_json, 'base64')` are timed alone.
 * Reported: openaiImages - bare undici (what the processor adds after the last byte), and that
 * over JSON.parse + base64 (the floor of any client that hands out decoded bytes). No target yet.
 *
 *   pnpm exec tsx bench/image-stream.ts    (BENCH_REPS = iterations per subject, BENCH_WARMUP)
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { openaiImages } from '@sluice/processors';
import { drawPicture } from '@sluice/processors/testing';
import { Agent, request } from 'undici';
import { envInt, fmt, isMain, machine, median, ratio, report, type ScenarioResult, sleep } from './harness.ts';

const HOLD_MS = 30;
/** 724 x 724 RGB noise: a PNG of 1.46 MB, which no compressor shrinks. */
const SIDE = 724;

function event(type: string, payload: Record<string, unknown>): string {
  return `event: ${type}\ndata: ${JSON.stringify({ type, ...payload })}\n\n`;
}

export async function main(): Promise<ScenarioResult> {
  const iterations = envInt('BENCH_REPS', 40);
  const warmup = envInt('BENCH_WARMUP', 5);

  const picture = (block: number) =>
    Buffer.from(drawPicture('a lighthouse at dusk', { width: SIDE, height: SIDE, noise: true, block }));
  const finalPNG = picture(1);
  const partials = [16, 8, 4].map((block, i) =>
    event('image_generation.partial_image', {
      b64_json: picture(block).toString('base64'),
      partial_image_index: i,
      created_at: 1_700_000_000,
      output_format: 'png',
    }),
  );
  const finalData = JSON.stringify({
    type: 'image_generation.completed',
    b64_json: finalPNG.toString('base64'),
    created_at: 1_700_000_000,
    output_format: 'png',
    usage: { input_tokens: 5, output_tokens: 4160, total_tokens: 4165 },
  });
  const finalEvent = `event: image_generation.completed\ndata: ${finalData}\n\n`;
  const before = partials.join('');
  const head = finalEvent.slice(0, -2);
  const tail = finalEvent.slice(-2);
  const total = Buffer.byteLength(before) + Buffer.byteLength(finalEvent);
  let t0 = 0;
  // The client says when it has taken in the partials (so their decoding is not timed).
  let partialsTaken: () => void = () => {};
  const expectPartials = () =>
    new Promise<void>((resolve) => {
      partialsTaken = resolve;
    });
  let taken = Promise.resolve();

  const server = createServer(async (req, res) => {
    for await (const _ of req);
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
    res.write(before);
    await taken;
    res.write(head);
    await sleep(HOLD_MS);
    t0 = performance.now();
    res.end(tail);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;
  const body = JSON.stringify({
    model: 'gpt-image-1',
    prompt: 'a lighthouse at dusk',
    stream: true,
    partial_images: 3,
  });
  const bareAgent = new Agent({ keepAliveTimeout: 10_000 });

  const bare = async (): Promise<number> => {
    taken = expectPartials();
    const response = await request(`${origin}/v1/images/generations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
      dispatcher: bareAgent,
    });
    let bytes = 0;
    for await (const chunk of response.body) {
      bytes += (chunk as Buffer).length;
      if (bytes >= total - Buffer.byteLength(finalEvent)) partialsTaken();
    }
    const t1 = performance.now();
    if (bytes !== total) throw new Error(`bare: read ${bytes} bytes`);
    return t1 - t0;
  };
  const model = openaiImages({ model: 'gpt-image-1', baseURL: `${origin}/v1`, apiKey: 'bench', partialImages: 3 });
  const ours = async (): Promise<number> => {
    let t1 = 0;
    let previews = 0;
    let size = 0;
    taken = expectPartials();
    for await (const part of model('a lighthouse at dusk')) {
      if (part.substream === 'preview' && ++previews === 3) partialsTaken();
      else if (part.substream === '' && part.data && t1 === 0) {
        t1 = performance.now();
        size = part.data.byteLength;
      }
    }
    if (previews !== 3 || size !== finalPNG.length)
      throw new Error(`openaiImages: ${previews} previews, ${size} bytes`);
    return t1 - t0;
  };
  const parse = (): number => {
    const t = performance.now();
    const value = JSON.parse(finalData) as { b64_json: string };
    const elapsed = performance.now() - t;
    if (value.b64_json.length === 0) throw new Error('JSON.parse: no image');
    return elapsed;
  };
  const b64 = finalPNG.toString('base64');
  const decode = (): number => {
    const t = performance.now();
    const bytes = Buffer.from(b64, 'base64');
    const elapsed = performance.now() - t;
    if (bytes.length !== finalPNG.length) throw new Error('base64: wrong length');
    return elapsed;
  };

  for (let i = 0; i < warmup; i++) {
    await bare();
    await ours();
    parse();
    decode();
  }
  const samples = { bare: [] as number[], ours: [] as number[], parse: [] as number[], decode: [] as number[] };
  for (let i = 0; i < iterations; i++) {
    if (i % 2 === 0) {
      samples.bare.push(await bare());
      samples.ours.push(await ours());
    } else {
      samples.ours.push(await ours());
      samples.bare.push(await bare());
    }
    samples.parse.push(parse());
    samples.decode.push(decode());
  }
  await bareAgent.close();
  server.closeAllConnections();
  server.close();

  const m = {
    bare: median(samples.bare),
    ours: median(samples.ours),
    parse: median(samples.parse),
    decode: median(samples.decode),
  };
  const overhead = m.ours - m.bare;
  const floor = m.parse + m.decode;
  const mb = (n: number) => `${(n / 1e6).toFixed(2)} MB`;
  const row = (name: string, values: number[], med: number) => [
    name,
    fmt(med, 3),
    fmt(Math.min(...values), 3),
    fmt(Math.max(...values), 3),
  ];
  const result: ScenarioResult = {
    scenario: 'image-stream',
    title: `Images 2: 3 partial + 1 final ${mb(finalPNG.length)} PNG streamed, last byte on the socket -> final image part (${iterations} alternating iterations each, ms)`,
    table: [
      ['subject', 'median ms', 'min ms', 'max ms'],
      row('bare undici request (end of body)', samples.bare, m.bare),
      row('openaiImages() (final image part)', samples.ours, m.ours),
      row(`JSON.parse of the final event's data (${mb(finalData.length)})`, samples.parse, m.parse),
      row('base64 decode of its b64_json (Buffer.from)', samples.decode, m.decode),
      ['openaiImages - bare undici', fmt(overhead, 3), '', ''],
      ['(openaiImages - bare) / (JSON.parse + base64)', ratio(overhead / floor), '', ''],
    ],
    checks: [],
    notes: [
      'server and client share one process and one clock; t0 is stamped right before the last 2 bytes are written',
      `the stream is ${mb(total)} in all; the final event is written once the client has taken in the 3 partials, its last 2 bytes ${HOLD_MS} ms later`,
    ],
    meta: { ...machine(), iterations, warmup, pngBytes: finalPNG.length, dataChars: finalData.length, samples },
  };
  report(result);
  return result;
}

if (isMain(import.meta.url)) await main();
