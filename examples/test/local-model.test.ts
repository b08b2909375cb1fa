import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { main } from '../local-model.ts';

describe('examples/local-model.ts', () => {
  it('streams tokens of the tiny in-process model while the timer keeps ticking', async () => {
    const lines: string[] = [];
    const { ticks, tokens } = await main((line) => lines.push(line));
    expect(tokens).toBeGreaterThan(10);
    expect(ticks).toBeGreaterThan(0);
    expect(lines.filter((l) => l.startsWith('token '))).toHaveLength(tokens);
    expect(lines.find((l) => l.startsWith('done:'))).toMatch(/^done: length, \d+ input and 64 output tokens$/);
  });

  it('runs as a script', async () => {
    const root = fileURLToPath(new URL('../..', import.meta.url));
    const run = spawnSync('pnpm', ['exec', 'tsx', 'examples/local-model.ts'], {
      cwd: root,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/done: length, \d+ input and 64 output tokens/);
    expect(run.stdout).toMatch(/the timer ticked \d+ times while \d+ tokens were generated/);
  });
});
