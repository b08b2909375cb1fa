import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { main } from '../concurrent-models.ts';

describe('examples/concurrent-models.ts', () => {
  it('answers three concurrent calls and interleaves the tokens of two concurrent streams', async () => {
    const lines: string[] = [];
    await main((line) => lines.push(line));
    const answered = lines.filter((l) => l.includes(' answered: '));
    expect(answered).toHaveLength(3);
    expect(answered.some((l) => l.includes('openai') && l.endsWith('controls the flow of water.'))).toBe(true);
    expect(answered.some((l) => l.includes('anthropic') && l.endsWith('the Amazon and the Danube.'))).toBe(true);
    expect(answered.some((l) => l.includes('ollama') && l.endsWith('こんにちは (konnichiwa).'))).toBe(true);

    const streamed = lines.slice(lines.indexOf('two concurrent streams:'));
    const tokens = (name: string) =>
      streamed
        .filter((l) => l.includes(`${name} `) && l.includes(' token '))
        .map((l) => JSON.parse(l.split(' token ')[1]!));
    expect(tokens('openai').join('')).toBe('A sluice is a channel with a gate that controls the flow of water.');
    expect(tokens('anthropic').join('')).toBe('The Nile, the Amazon and the Danube.');
    // Printed as they arrive: the two streams interleave instead of running one after the other.
    const firstAnthropic = streamed.findIndex((l) => l.includes('anthropic token'));
    const lastOpenai = streamed.findLastIndex((l) => l.includes('openai') && l.includes(' token '));
    expect(firstAnthropic).toBeLessThan(lastOpenai);
    expect(streamed.filter((l) => l.includes(' done: stop, '))).toHaveLength(2);
  });

  it('runs as a script', async () => {
    const root = fileURLToPath(new URL('../..', import.meta.url));
    const run = spawnSync('pnpm', ['exec', 'tsx', 'examples/concurrent-models.ts'], {
      cwd: root,
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('two concurrent streams:');
    expect(run.stdout).toContain('done: stop');
  });
});
