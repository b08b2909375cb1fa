// The documentation lives in the repository: every relative Markdown link lands on a file of the repository, and
// no file names the contract or format notes kept outside it.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const tracked = execFileSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8' })
  .split('\0')
  .filter((file) => file && existsSync(join(ROOT, file)));
const textFiles = tracked.filter(
  (file) => /\.(md|ts|js|mjs|json|sh|html|wat)$/.test(file) && file !== 'pnpm-lock.yaml',
);

describe('links', () => {
  it('relative links in Markdown files point at files inside the repository', () => {
    const markdown = tracked.filter((file) => file.endsWith('.md'));
    expect(markdown.length).toBeGreaterThan(5);
    const broken: string[] = [];
    for (const file of markdown) {
      const text = readFileSync(join(ROOT, file), 'utf8').replace(/```[\s\S]*?```/g, '');
      for (const match of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = match[1] ?? '';
        if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('#')) continue;
        const path = resolve(dirname(join(ROOT, file)), decodeURIComponent(target.split('#')[0] ?? ''));
        const inside = !relative(ROOT, path).startsWith('..');
        if (!inside || !existsSync(path)) broken.push(`${file}: ${target}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('no file refers to notes outside the repository', () => {
    const offenders: string[] = [];
    for (const file of textFiles) {
      if (file === 'packaging/test/links.test.ts') continue;
      const text = readFileSync(join(ROOT, file), 'utf8');
      if (/\.\.\/shared\b|\bAPI\.md\b|\bWEIGHTS\.md\b|\bSTYLE\.md\b/.test(text)) offenders.push(file);
    }
    expect(offenders).toEqual([]);
  });
});
