// The HTTP layer is the only code that talks to undici: models, the registry client and downloads
// all go through packages/processors/src/http/. A source file elsewhere that imports undici (even
// a type) fails here; tests, benchmarks and test servers may use it directly.

import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const packages = join(import.meta.dirname, '..', '..');
const httpLayer = join(packages, 'processors', 'src', 'http');

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules' && entry.name !== 'testing') out.push(...sources(path));
    } else if (/\.(ts|js|mjs)$/.test(entry.name) && !entry.name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

const importsUndici = /(?:from\s*|import\s*\(\s*|require\s*\(\s*)['"]undici(?:\/[^'"]*)?['"]/;

describe('one HTTP layer', () => {
  it('no source file outside processors/src/http imports undici', () => {
    const offenders = readdirSync(packages)
      .flatMap((name) => sources(join(packages, name, 'src')))
      .filter((path) => !path.startsWith(httpLayer + '/'))
      .filter((path) => importsUndici.test(readFileSync(path, 'utf8')))
      .map((path) => relative(packages, path));
    expect(offenders).toEqual([]);
  });

  it('the check sees an import when there is one', () => {
    expect(importsUndici.test("import { request } from 'undici';")).toBe(true);
    expect(importsUndici.test("import type { Dispatcher } from 'undici';")).toBe(true);
    expect(importsUndici.test("const u = await import('undici');")).toBe(true);
    expect(importsUndici.test("import { x } from 'undici-types';")).toBe(false);
  });
});
