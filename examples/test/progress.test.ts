import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSafetensors } from '@sluice/processors';
import { afterEach, describe, expect, it } from 'vitest';
import { main } from '../progress.ts';

let dir: string | undefined;
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

function recorder(isTTY: boolean) {
  const chunks: string[] = [];
  return { isTTY, chunks, write: (chunk: string) => chunks.push(chunk), text: () => chunks.join('') };
}

const PACKAGES = ['vec-formal', 'vec-cheerful', 'vec-cautious'];

describe('examples/progress.ts', () => {
  it('renders download status parts and alignment chunks as plain lines when not a TTY', async () => {
    dir = await mkdtemp(join(tmpdir(), 'sluice-progress-'));
    const out = recorder(false);
    const { downloads, aligned } = await main({ output: out, outDir: dir });

    expect(downloads.map((d) => [d.filename, d.success])).toEqual(PACKAGES.map((id) => [`${id}.safetensors`, true]));
    const lines = out.text().split('\n');
    for (const id of PACKAGES)
      expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^ {2}purchased ${id} \\(rcpt_`)));
    const downloadLines = lines.filter((l) => l.startsWith('download: '));
    expect(downloadLines.at(-1)).toMatch(/^download: 3\/3 files \(\d+\.\d\/\d+\.\d KiB\)$/);
    const completed = downloadLines.map((l) => Number(/: (\d+)\//.exec(l)![1]));
    expect(completed).toEqual([...completed].sort((a, b) => a - b));
    for (const id of PACKAGES) {
      expect(lines.filter((l) => l.startsWith(`align ${id}: `))).toEqual([
        `align ${id}: layer 1/4 (25%)`,
        `align ${id}: layer 2/4 (50%)`,
        `align ${id}: layer 3/4 (75%)`,
        `align ${id}: layer 4/4 (100%)`,
      ]);
    }
    expect(out.text().includes('\r')).toBe(false);

    // The aligned files are real safetensors, each recording its package.
    expect(aligned).toEqual(PACKAGES.map((id) => join(dir!, 'aligned', `${id}.safetensors`)));
    for (const path of aligned) {
      const file = await openSafetensors(path);
      await file.close();
      expect(file.metadata['alignment.strength']).toBe('0.5');
      expect(file.tensors.length).toBeGreaterThan(0);
    }
  });

  it('redraws bars in place on a TTY', async () => {
    dir = await mkdtemp(join(tmpdir(), 'sluice-progress-'));
    const out = recorder(true);
    await main({ output: out, outDir: dir });
    const text = out.text();
    expect(text).not.toMatch(/^download: /m);
    const lastDownload = out.chunks.filter((c) => c.startsWith('\rdownload [')).at(-1)!;
    expect(lastDownload.endsWith('\x1b[K')).toBe(true);
    expect(lastDownload.slice(1, -3)).toMatch(/^download \[█{20}\] 3\/3 files \(.+ KiB\)$/);
    for (const id of PACKAGES) {
      expect(out.chunks).toContain(`\ralign ${id} [${'█'.repeat(20)}] layer 4/4 (100%)\x1b[K`);
    }
    // Each bar ends with exactly one newline, so the next output starts on its own line.
    expect(out.chunks.filter((c) => c === '\n')).toHaveLength(4);
  });
});
