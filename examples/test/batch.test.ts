import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { main, TICKETS } from '../batch.ts';

let dir: string | undefined;
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('examples/batch.ts', () => {
  it('answers in input order with at most 3 in flight, and reports failures in place', async () => {
    dir = await mkdtemp(join(tmpdir(), 'sluice-batch-'));
    const lines: string[] = [];
    const result = await main((line) => lines.push(line), { concurrency: 3, outputDir: dir });

    // 1. Every ticket has its own answer, in input order; the two rejected requests failed in place.
    expect(result.answers.map((a) => a.ticket)).toEqual(TICKETS);
    expect(result.maxInFlight).toBe(3);
    const failed = result.answers.filter((a) => !a.ok);
    expect(failed.map((a) => a.ticket).sort()).toEqual([...result.rejectedTickets].sort());
    expect(failed).toHaveLength(2);
    for (const a of failed) expect(a.text).toMatch(/^BadRequestError: .*rejected by a filter/);
    for (const a of result.answers.filter((x) => x.ok)) {
      expect(a.text).toBe(`Triage: ${a.ticket.toLowerCase()} -> IT queue.`);
    }

    // 2. batchLoad: results in input order; the unknown and the corrupt package failed without a file.
    expect(result.loads.map((r) => [r.packageId, r.success])).toEqual([
      ['vec-formal', true],
      ['vec-does-not-exist', false],
      ['vec-pirate', true],
      ['vec-cheerful', false],
      ['vec-concise', true],
    ]);
    expect(result.loads[1]!.error).toMatch(/package_not_found/);
    expect(result.loads[3]!.error).toMatch(/sha256 mismatch/);
    expect(result.maxActiveDownloads).toBeGreaterThan(0);
    expect(result.maxActiveDownloads).toBeLessThanOrEqual(2);
    expect((await readdir(dir)).sort()).toEqual([
      'vec-concise.safetensors',
      'vec-formal.safetensors',
      'vec-pirate.safetensors',
    ]);
    expect(lines).toContain('   8 answered, 2 failed');
  });
});
