import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const builtins = /from\s+['"](node:|fs['"]|path['"]|events['"]|stream['"]|buffer['"]|util['"]|crypto['"]|http['"])/;

describe('portability', () => {
  it('@sluice/core and @sluice/streams (testing entries included) import no node: module', () => {
    const offenders: string[] = [];
    for (const dir of ['packages/core/src', 'packages/streams/src']) {
      const root = join(import.meta.dirname, '..', '..', '..', dir);
      for (const file of readdirSync(root, { recursive: true }) as string[]) {
        if (!file.endsWith('.ts')) continue;
        const text = readFileSync(join(root, file), 'utf8');
        if (builtins.test(text) || /\bBuffer\b|\bprocess\./.test(text)) offenders.push(`${dir}/${file}`);
      }
    }
    expect(offenders).toEqual([]);
  });
});
