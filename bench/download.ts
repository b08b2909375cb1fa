/**
 * Scenario: `download` of 8 files of 32 MiB from a loopback HTTP server (in a worker thread, so it does not
 * share the client's event loop), 4 at a time, against a bare undici request
 * per file whose body is piped to a file (no hash, no fsync), same concurrency, same run.
 *   baseline   undici request() + stream pipeline into fs.createWriteStream
 *   download   the download processor, sha256 given for every file: hash while writing, 1 MiB batched
 *              writes, size + sha256 + fsync + rename before the result
 * Where the time goes, timed alone:
 *   sha256     hashing 256 MiB in memory (node:crypto), one thread
 *   fsync      writing 8 x 32 MiB to new files and fsyncing each (4 at a time)
 * Target: download >= 0.7x the baseline's throughput.
 *
 *   pnpm exec tsx bench/download.ts         (BENCH_REPS=5 by default)
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Worker } from 'node:worker_threads';
import { jsonPart } from '@sluice/core';
import { Agent, request } from 'undici';
import { DownloadResultPart, download } from '../packages/processors/src/download/index.ts';
import { check, compare, envInt, fmt, isMain, machine, ratio, report, type Subject } from './harness.ts';

const MiB = 1024 * 1024;
const FILES = 8;
const FILE_BYTES = 32 * MiB;
const CONCURRENCY = 4;
const REPS = envInt('BENCH_REPS', 5);

/** The server: 8 in-memory files of patterned bytes, served whole (plain JS, run in a worker thread). */
const SERVER = `
const { createServer } = require('node:http');
const { parentPort, workerData } = require('node:worker_threads');
const files = [];
for (let f = 0; f < workerData.files; f++) {
  const body = Buffer.alloc(workerData.size);
  for (let i = 0; i < body.length; i += 4) body.writeUInt32LE((i * 2654435761 + f) >>> 0, i);
  files.push(body);
}
const server = createServer((req, res) => {
  const f = Number(/\\/f(\\d+)\\.bin/.exec(req.url)?.[1]);
  const body = files[f];
  if (!body) { res.writeHead(404).end(); return; }
  res.writeHead(200, { 'content-length': body.length, etag: '"f' + f + '"' });
  res.end(body);
});
server.listen(0, '127.0.0.1', () => parentPort.postMessage({ port: server.address().port }));
parentPort.on('message', (m) => { if (m === 'close') { server.closeAllConnections(); server.close(() => process.exit(0)); } });
`;

function fileBytes(f: number): Buffer {
  const body = Buffer.alloc(FILE_BYTES);
  for (let i = 0; i < body.length; i += 4) body.writeUInt32LE((i * 2654435761 + f) >>> 0, i);
  return body;
}

async function inPool<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

async function main() {
  const worker = new Worker(SERVER, { eval: true, workerData: { files: FILES, size: FILE_BYTES } });
  const { port } = await new Promise<{ port: number }>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  const dir = await mkdtemp(join(tmpdir(), 'sluice-bench-download-'));
  const indices = Array.from({ length: FILES }, (_, f) => f);
  const url = (f: number) => `http://127.0.0.1:${port}/f${f}.bin`;
  const hashes = indices.map((f) => createHash('sha256').update(fileBytes(f)).digest('hex'));
  const inMemory = fileBytes(0);
  try {
    const baseline = async () => {
      const agent = new Agent();
      try {
        await inPool(indices, CONCURRENCY, async (f) => {
          const { body } = await request(url(f), { dispatcher: agent });
          await pipeline(body, createWriteStream(join(dir, `baseline-${f}.bin`)));
        });
      } finally {
        await agent.close();
        for (const f of indices) await rm(join(dir, `baseline-${f}.bin`), { force: true });
      }
    };
    const sluice = async () => {
      const outputDir = join(dir, 'sluice');
      try {
        const parts = await download({ outputDir, maxConcurrency: CONCURRENCY })(
          indices.map((f) => jsonPart({ url: url(f), sha256: hashes[f], size: FILE_BYTES })),
        ).gather();
        const ok = parts.filter((p) => DownloadResultPart.is(p) && DownloadResultPart.read(p).success);
        if (ok.length !== FILES) throw new Error(`only ${ok.length} of ${FILES} downloads succeeded`);
      } finally {
        await rm(outputDir, { recursive: true, force: true });
      }
    };
    const sha256Only = async () => {
      for (let f = 0; f < FILES; f++) createHash('sha256').update(inMemory).digest('hex');
    };
    const fsyncOnly = async () => {
      await inPool(indices, CONCURRENCY, async (f) => {
        const path = join(dir, `sync-${f}.bin`);
        const handle = await open(path, 'w');
        try {
          for (let at = 0; at < FILE_BYTES; at += MiB) await handle.write(inMemory, at, MiB, at);
          await handle.sync();
        } finally {
          await handle.close();
          await rm(path);
        }
      });
    };
    const subjects: Subject[] = [
      { name: 'baseline', run: baseline },
      { name: 'download', run: sluice },
      { name: 'sha256', run: sha256Only },
      { name: 'fsync', run: fsyncOnly },
    ];
    const results = await compare(subjects, { reps: REPS, warmup: 1, label: 'download' });
    const ms = (name: string) => results.get(name)!.median;
    const total = (FILES * FILE_BYTES) / MiB;
    const rows = [
      ['subject', 'median ms', 'min ms', 'max ms', 'MiB/s', 'vs baseline'],
      ...subjects.map((s) => {
        const r = results.get(s.name)!;
        return [
          s.name,
          fmt(r.median, 1),
          fmt(r.min, 1),
          fmt(r.max, 1),
          fmt(total / (r.median / 1000), 0),
          ratio(ms('baseline') / r.median),
        ];
      }),
    ];
    report({
      scenario: 'download',
      title: `download: ${FILES} x ${FILE_BYTES / MiB} MiB from loopback, ${CONCURRENCY} at a time, ${REPS} reps (median)`,
      table: rows,
      checks: [check('download vs baseline', ms('baseline') / ms('download'), '>=', 0.7, 'x')],
      notes: [
        'baseline: bare undici request piped to a file: no hash, no size check, no fsync, no rename',
        'sha256 / fsync: two costs the baseline does not pay, timed alone over the same 256 MiB',
      ],
      meta: { ...machine(), files: FILES, fileBytes: FILE_BYTES, concurrency: CONCURRENCY, reps: REPS },
    });
  } finally {
    worker.postMessage('close');
    await new Promise((resolve) => worker.once('exit', resolve));
    await rm(dir, { recursive: true, force: true });
  }
}

if (isMain(import.meta.url)) await main();
