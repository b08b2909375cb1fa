// align as a part processor: jsonPart({ path }) and DownloadResult parts in, one AlignmentChunk part per layer
// out; a failed DownloadResult passes through; download().pipe(align()) works end to end against a real
// server; stopping the run (break, abort) leaves no output and no worker; options are checked at once.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { jsonPart, type Part, readJSON, textPart } from '@sluice/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AlignmentChunkSchema, align, alignWorkerCount } from '../src/align/index.ts';
import { download } from '../src/download/index.ts';
import { writeSafetensors } from '../src/safetensors/index.ts';
import { partialsIn, readValues, tempFolder, tensorOf, writeGolden } from './fixtures-weights/models.ts';
import { type FileServer, sha256, startFileServer } from './fixtures-weights/server.ts';

let dir: string;
let remove: () => Promise<void>;
let base: string;
let pkg: string;
beforeEach(async () => {
  ({ dir, remove } = await tempFolder());
  ({ base, pkg } = await writeGolden(dir));
});
afterEach(() => remove());

const chunksOf = (parts: Part[]) =>
  parts
    .filter((p) => p.mimetype === 'application/json; type=AlignmentChunk')
    .map((p) => readJSON(p, AlignmentChunkSchema));

describe('align processor', () => {
  it('turns a jsonPart({ path }) into one AlignmentChunk part per layer', async () => {
    const output = join(dir, 'out.safetensors');
    const parts = await align({ baseWeights: base, strength: 0.5, output })([jsonPart({ path: pkg })]).gather();
    expect(parts.map((p) => p.mimetype)).toEqual([
      'application/json; type=AlignmentChunk',
      'application/json; type=AlignmentChunk',
    ]);
    const chunks = chunksOf(parts);
    expect(chunks[0]).toMatchObject({
      layerIndex: 0,
      totalLayers: 2,
      deltaNorm: Math.SQRT2,
      progressPct: 50,
      isFinal: false,
    });
    expect(chunks[1]).toMatchObject({
      layerIndex: 1,
      deltaNorm: 1,
      progressPct: 100,
      isFinal: true,
      outputPath: output,
    });
    expect(chunks[1].alignmentScore).toBeCloseTo(0.8770580193, 10);
    expect(await readValues(output, 'model.layers.1.mlp.down_proj.weight')).toEqual([2, 0, 1, 2]);
  });

  it('takes successful DownloadResult parts, lets failed ones and other parts through, output per package', async () => {
    const other = join(dir, 'other.safetensors');
    await writeSafetensors(other, [tensorOf('model.norm.weight', [2], [1, -1])]);
    const ok = {
      url: 'http://x/d',
      filename: 'delta.safetensors',
      path: pkg,
      sizeBytes: 1,
      sha256: 'x',
      success: true,
    };
    const failed = {
      url: 'http://x/e',
      filename: 'e',
      path: '',
      sizeBytes: 0,
      sha256: '',
      success: false,
      error: 'HTTP 404',
    };
    const parts = await align({ baseWeights: base, strength: 1, output: (p) => `${p}.aligned` })([
      jsonPart(ok, { type: 'DownloadResult' }),
      jsonPart(failed, { type: 'DownloadResult' }),
      textPart('note'),
      jsonPart({ path: other }),
    ]).gather();
    expect(parts.map((p) => p.mimetype.replace('application/json; type=', ''))).toEqual([
      'AlignmentChunk',
      'AlignmentChunk',
      'DownloadResult',
      'text/plain',
      'AlignmentChunk',
      'AlignmentChunk',
    ]);
    expect(
      chunksOf(parts)
        .filter((c) => c.isFinal)
        .map((c) => c.outputPath),
    ).toEqual([`${pkg}.aligned`, `${other}.aligned`]);
    expect(await readValues(`${other}.aligned`, 'model.norm.weight')).toEqual([2, 0]);
  });

  it('a bad strength throws RangeError when the processor is made', () => {
    for (const strength of [-1, 2.5, Number.NaN])
      expect(() => align({ baseWeights: base, strength, output: 'x' })).toThrow(RangeError);
    expect(() => align({ baseWeights: base, strength: 1, output: 'x', layers: [1.5] })).toThrow(RangeError);
  });

  it('a typed error ends the run and reaches the consumer unchanged, with its code', async () => {
    const bad = join(dir, 'bad.safetensors');
    await writeSafetensors(bad, [tensorOf('nope.weight', [1], [1])]);
    await expect(
      align({ baseWeights: base, strength: 1, output: join(dir, 'o.safetensors') })([jsonPart({ path: bad })]).gather(),
    ).rejects.toMatchObject({
      code: 'E_UNMATCHED',
      names: ['nope.weight'],
    });
    expect(await partialsIn(dir)).toEqual([]);
  });

  it('stopping the run after the first chunk (break or abort) leaves no output and no worker', async () => {
    const output = join(dir, 'out.safetensors');
    for await (const part of align({ baseWeights: base, strength: 1, output })([jsonPart({ path: pkg })])) {
      expect(part.mimetype).toBe('application/json; type=AlignmentChunk');
      break;
    }
    expect(alignWorkerCount()).toBe(0);
    const controller = new AbortController();
    const reason = new Error('cancelled');
    const run = (async () => {
      for await (const _ of align({ baseWeights: base, strength: 1, output })([jsonPart({ path: pkg })], {
        signal: controller.signal,
      })) {
        controller.abort(reason);
      }
    })();
    await expect(run).rejects.toBe(reason);
    expect(alignWorkerCount()).toBe(0);
    expect(await partialsIn(dir)).toEqual([]);
    expect((await readdir(dir)).sort()).toEqual(['base.safetensors', 'delta.safetensors']);
  });
});

describe('download -> align', () => {
  let server: FileServer;
  beforeEach(async () => {
    server = await startFileServer();
  });
  afterEach(() => server.close());

  it('downloads a delta package from a server and aligns it', async () => {
    const bytes = await readFile(pkg);
    server.files.set('/packages/delta.safetensors', { body: bytes, etag: '"p1"' });
    const downloads = join(dir, 'downloads');
    const pipeline = download({ outputDir: downloads }).pipe(
      align({ baseWeights: base, strength: 0.5, output: (p) => p.replace(/\.safetensors$/, '.aligned.safetensors') }),
    );
    const parts = await pipeline([
      jsonPart({ url: server.url('/packages/delta.safetensors'), sha256: sha256(bytes) }),
    ]).gather();
    const final = chunksOf(parts).at(-1)!;
    expect(final).toMatchObject({ isFinal: true, outputPath: join(downloads, 'delta.aligned.safetensors') });
    expect(final.alignmentScore).toBe(10 / Math.sqrt(130));
    expect(parts.some((p) => p.substream === 'status')).toBe(true);
  });
});
