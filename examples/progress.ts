/**
 * Progress tracking from a pipeline's status parts: the registry operations as processors
 * (`searchPackages` -> `purchasePackages` -> `download`) report each purchase and each file on the
 * 'status' substream, out of band, while the results flow on the default one; `align` then yields
 * one AlignmentChunk per layer. Both are rendered with the sdk's terminal progress helper:
 * `progressBar` for the download status parts (the total grows as search results stream in) and
 * `alignProgress` for the layers of each package. On a terminal the bars redraw in place; piped
 * (`| cat`) they become plain lines. Uses the embedded registry; files go to out/examples/progress/.
 * Run: `pnpm exec tsx examples/progress.ts`.
 */
import { mkdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { jsonPart, type Part } from '@sluice/core';
import {
  type AlignmentChunk,
  AlignmentChunkPart,
  align,
  type DownloadProgressMetadata,
  type DownloadResult,
  DownloadResultPart,
  download,
} from '@sluice/processors';
import {
  alignProgress,
  Client,
  type ProgressOutput,
  type PurchaseStatusMetadata,
  progressBar,
  purchasePackages,
  searchPackages,
} from '@sluice/sdk';
import { startRegistryServer } from '@sluice/sdk/testing';

export interface ProgressExampleOptions {
  /** Default `process.stdout`. */
  output?: ProgressOutput;
  /** Default out/examples/progress/. */
  outDir?: string;
}

const kib = (bytes: number) => (bytes / 1024).toFixed(1);

/** The AlignmentChunks among a run's parts. */
async function* chunksOf(parts: AsyncIterable<Part>): AsyncGenerator<AlignmentChunk> {
  for await (const p of parts) if (AlignmentChunkPart.is(p)) yield AlignmentChunkPart.read(p);
}

export async function main(
  options: ProgressExampleOptions = {},
): Promise<{ downloads: DownloadResult[]; aligned: string[] }> {
  const output = options.output ?? process.stdout;
  const outDir = options.outDir ?? fileURLToPath(new URL('../out/examples/progress/', import.meta.url));
  const registry = await startRegistryServer();
  const client = new Client({ baseURL: registry.baseURL, apiKey: registry.apiKey, cacheDir: outDir, env: {} });
  const signal = AbortSignal.timeout(20_000);
  try {
    // 1. Search, buy and download as one streaming run; progress arrives as status parts.
    const fetchPackages = searchPackages(client, 'vector', { query: 'tone', model: registry.baseModelName }).pipe(
      purchasePackages(client),
      download({ outputDir: join(outDir, 'packages'), maxConcurrency: 2, progressIntervalMs: 50 }),
    );
    const bar = progressBar({ label: 'download', output, format: ({ current, total }) => `${current}/${total} files` });
    const downloads: DownloadResult[] = [];
    for await (const part of fetchPackages(undefined, { signal })) {
      if (part.substream === 'status') {
        // Status metadata says what it reports in `type`.
        const metadata = part.metadata as { type?: string };
        if (metadata.type === 'PackagePurchased') {
          const { packageId, receiptId } = metadata as PurchaseStatusMetadata;
          bar.log(`  purchased ${packageId} (${receiptId})`);
        } else if (metadata.type === 'DownloadProgress') {
          const { filesCompleted, filesTotal, bytesDone, bytesTotal } = metadata as DownloadProgressMetadata;
          bar.update(filesCompleted, filesTotal, `(${kib(bytesDone)}/${kib(bytesTotal)} KiB)`);
        }
      } else if (DownloadResultPart.is(part)) {
        downloads.push(DownloadResultPart.read(part));
      }
    }
    bar.done();

    // 2. Align each package into the base model, one bar per package, one step per layer.
    const aligned: string[] = [];
    await mkdir(join(outDir, 'aligned'), { recursive: true }); // align writes into an existing folder
    const aligner = align({
      baseWeights: registry.baseModelPath,
      strength: 0.5,
      output: (pkg) => join(outDir, 'aligned', basename(pkg)),
    });
    for (const result of downloads.filter((d) => d.success)) {
      const label = `align ${basename(result.filename, '.safetensors')}`;
      const layers = chunksOf(aligner(jsonPart({ path: result.path }), { signal }));
      for await (const chunk of alignProgress(layers, { output, label })) {
        if (chunk.outputPath) aligned.push(chunk.outputPath);
      }
    }
    output.write(`aligned ${aligned.length} packages into ${join(outDir, 'aligned')}\n`);
    return { downloads, aligned };
  } finally {
    await client.close();
    await registry.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
