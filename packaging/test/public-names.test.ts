// docs/public-names.md lists every public name of every entry point, and each link lands on a file and heading
// that exist in the repository.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { render } from '../../scripts/public-names.ts';

const DOCS = fileURLToPath(new URL('../../docs/', import.meta.url));
const page = readFileSync(join(DOCS, 'public-names.md'), 'utf8');

/** GitHub's anchors of a Markdown file's headings (outside code fences), duplicates numbered. */
function anchorsOf(file: string): Set<string> {
  const out = new Set<string>();
  const seen = new Map<string, number>();
  let inFence = false;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line.startsWith('```')) inFence = !inFence;
    const match = !inFence && /^#{1,6}\s+(.*)$/.exec(line);
    if (!match) continue;
    const base = (match[1] ?? '')
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

describe('docs/public-names.md', () => {
  it('is what scripts/public-names.ts writes from the current sources (regenerate it when an export changes)', () => {
    expect(page).toBe(render());
  });

  it('names the entry points and their main exports', () => {
    for (const heading of ['@sluice/streams', '@sluice/core', '@sluice/processors/redis', '@sluice/sdk/testing']) {
      expect(page).toContain(`## \`${heading}\``);
    }
    for (const name of ['merge', 'chain', 'partProcessor', 'align', 'download', 'createLLM', 'SluiceError']) {
      expect(page).toMatch(new RegExp(`^\\| \`${name}\` \\|`, 'm'));
    }
  });

  it('links only to files and headings in the repository', () => {
    const links = [...page.matchAll(/\]\(([^)]+)\)/g)].map((m) => m[1] ?? '');
    expect(links.length).toBeGreaterThan(100);
    const anchors = new Map<string, Set<string>>();
    for (const link of links) {
      expect(link).not.toMatch(/^[a-z]+:/);
      const [path = '', hash] = link.split('#');
      const file = join(DOCS, path);
      expect(existsSync(file), link).toBe(true);
      expect(file.startsWith(dirname(DOCS.replace(/\/$/, '')))).toBe(true);
      if (hash !== undefined) {
        if (!anchors.has(file)) anchors.set(file, anchorsOf(file));
        expect(anchors.get(file)!.has(hash), link).toBe(true);
      }
    }
  });
});
