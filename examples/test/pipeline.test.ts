import { describe, expect, it } from 'vitest';
import { main } from '../pipeline.ts';

describe('examples/pipeline.ts', () => {
  it('prints every word, numbered in arrival order, with status lines as they happen', async () => {
    const lines: string[] = [];
    await main((line) => lines.push(line));
    const outputs = lines.filter((l) => l.includes(' output ')).map((l) => l.split(' output  ')[1]);
    expect(outputs).toHaveLength(7);
    expect(outputs.at(-1)).toBe('(6 words)');
    expect(
      outputs
        .slice(0, 6)
        .map((l) => l!.replace(/^\d+\. /, ''))
        .sort(),
    ).toEqual(['CLEANLY', 'COMPOSE', 'FAST', 'FLOW', 'PARTS', 'STREAMS']);
    expect(lines.filter((l) => l.includes(' status ')).length).toBe(6);
    const times = lines.map((l) => Number(l.split(' ms')[0]));
    expect(times).toEqual([...times].sort((a, b) => a - b));
  });
});
