import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { main } from '../images.ts';

describe('examples/images.ts', () => {
  it('shows previews before the image, four in parallel two ways, and text mixed with images', async () => {
    const lines: string[] = [];
    await main((line) => lines.push(line));
    const one = lines.slice(1, lines.indexOf('four in parallel (Promise.all):'));
    expect(one.map((l) => l.trim().split(':')[0])).toEqual([
      'preview 0 of image 0',
      'preview 1 of image 0',
      'image 0',
      'done',
    ]);
    expect(lines.filter((l) => / 1 image, \d+ bytes$/.test(l))).toHaveLength(4);
    const viaProcessor = lines.slice(
      lines.indexOf('four in parallel (a part processor, 2 at a time):') + 1,
      lines.indexOf('text and image mixed:'),
    );
    // The part processor keeps input order whatever finishes first.
    expect(viaProcessor.map((l) => l.trim().split(':')[0])).toEqual([
      'a red kite',
      'a paper boat',
      'an old map',
      'a quiet harbour',
    ]);
    expect(lines).toContain('  the text model says: a fox in the snow');
    expect(lines.at(-1)).toMatch(/^ {2}the image model drew it: image\/png, \d+ bytes$/);
  });

  it('runs as a script', async () => {
    const root = fileURLToPath(new URL('../..', import.meta.url));
    const run = spawnSync('pnpm', ['exec', 'tsx', 'examples/images.ts'], {
      cwd: root,
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('the image model drew it: image/png');
  });
});
