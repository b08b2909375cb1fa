// One table of every error code: each `E_...` code a package's sources throw with appears in
// docs/errors.md, so a new error class cannot land undocumented.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

describe('docs/errors.md', () => {
  it('lists every error code the sources use', () => {
    const sources = execFileSync('git', ['ls-files', '-z', '--', 'packages'], { cwd: ROOT, encoding: 'utf8' })
      .split('\0')
      .filter((file) => /^packages\/[^/]+\/src\/.*\.(ts|js)$/.test(file));
    const codes = new Set<string>();
    for (const file of sources) {
      for (const match of readFileSync(join(ROOT, file), 'utf8').matchAll(/'(E_[A-Z0-9_]+)'/g)) codes.add(match[1]!);
    }
    expect(codes.size).toBeGreaterThan(30);
    const table = readFileSync(join(ROOT, 'docs/errors.md'), 'utf8');
    expect([...codes].filter((code) => !table.includes(`\`${code}\``))).toEqual([]);
  });
});
