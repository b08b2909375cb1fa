import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FIXTURES } from './redis-helpers.ts';

/** The node-redis modules loaded (CommonJS, so in the module cache) after importing `specifier`. */
function redisModulesAfter(specifier: string): string[] {
  const script = join(FIXTURES, 'loaded-modules.ts');
  const run = spawnSync(process.execPath, ['--import', 'tsx', script, specifier], { encoding: 'utf8' });
  expect(run.status, run.stderr).toBe(0);
  return JSON.parse(run.stdout) as string[];
}

describe('@sluice/processors loads no Redis client', () => {
  it("import '@sluice/processors' loads no node-redis module; '@sluice/processors/redis' does", () => {
    expect(redisModulesAfter('@sluice/processors')).toEqual([]);
    expect(redisModulesAfter('@sluice/processors/testing')).toEqual([]);
    expect(redisModulesAfter('@sluice/processors/redis').length).toBeGreaterThan(0);
  });
});
