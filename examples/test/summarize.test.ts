import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { main } from '../summarize.ts';

describe('examples/summarize.ts', () => {
  it('summarizes three documents in order, the long one in chunks, and shows llm.summarize', async () => {
    const lines: string[] = [];
    await main((line) => lines.push(line));
    expect(lines[0]).toMatch(/^status: summarize: \d+ chunks, 4 at a time$/);
    expect(lines[1]).toBe('document 1: Summary: Minutes: the board approved the new ...');
    expect(lines[2]).toBe('document 2: Summary: # Release notes Version 2 adds ...');
    expect(lines[3]).toBe('document 3: Summary: Part 1: Summary: Section 1. The ...');
    const chunks = Number(/(\d+) chunks/.exec(lines[0]!)![1]);
    expect(chunks).toBeGreaterThan(1);
    // One call per short document, one per chunk and one to combine them.
    expect(lines[4]).toBe(`model calls: ${2 + chunks + 1}`);
    expect(lines[5]).toBe('llm.summarize: Summary: A short note about water levels ...');
  });

  it('runs as a script', async () => {
    const root = fileURLToPath(new URL('../..', import.meta.url));
    const run = spawnSync('pnpm', ['exec', 'tsx', 'examples/summarize.ts'], {
      cwd: root,
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('llm.summarize: Summary:');
  });
});
