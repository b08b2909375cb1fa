// Sluice as a user installs it: build each package, `pnpm pack` it, install the tarballs into an empty project in a
// temp folder (npm, the registry for third-party dependencies), then run a program under plain `node` (no tsx, no
// source condition), typecheck a .ts file under NodeNext + strict + noUncheckedIndexedAccess with skipLibCheck off,
// and lint each tarball with publint and @arethetypeswrong/cli.
import { type SpawnSyncReturns, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FIXTURE = fileURLToPath(new URL('../fixture/', import.meta.url));
const PACKAGES = ['streams', 'core', 'processors', 'sdk'] as const;
const requireFromRoot = createRequire(join(ROOT, 'package.json'));

/** The environment of a user's shell: no source condition, no pnpm/npm settings inherited from this run. */
function userEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key === 'NODE_OPTIONS' || /^(npm|pnpm)_/i.test(key) || key.startsWith('VITEST') || key === 'NODE_ENV') continue;
    env[key] = value;
  }
  return env;
}

/** Runs a command to completion; a failure shows its output. */
function run(
  command: string,
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv = userEnv(),
): SpawnSyncReturns<string> {
  const result = spawnSync(command, args, { cwd, env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (result.error) throw result.error;
  return result;
}

function expectOk(result: SpawnSyncReturns<string>, what: string): void {
  if (result.status !== 0) {
    throw new Error(`${what} exited with ${result.status}\n${result.stdout}\n${result.stderr}`.slice(0, 20_000));
  }
}

let temp = '';
let project = '';
const tarballs = new Map<string, string>();

beforeAll(() => {
  temp = mkdtempSync(join(tmpdir(), 'sluice-install-'));
  const packs = join(temp, 'packs');
  project = join(temp, 'project');
  // Dependencies first: a package's build reads the declarations of the ones it imports from their dist/.
  for (const name of PACKAGES) {
    const dir = join(ROOT, 'packages', name);
    expectOk(run(process.execPath, [join(ROOT, 'scripts/build-package.mjs')], dir), `build of @sluice/${name}`);
    expectOk(run('pnpm', ['pack', '--pack-destination', packs], dir), `pnpm pack of @sluice/${name}`);
  }
  for (const file of readdirSync(packs)) {
    const name = /^sluice-(\w+)-/.exec(file)?.[1];
    if (name) tarballs.set(`@sluice/${name}`, join(packs, file));
  }
  expect([...tarballs.keys()].sort()).toEqual(PACKAGES.map((name) => `@sluice/${name}`).sort());

  cpSync(FIXTURE, project, { recursive: true });
  const dependencies = Object.fromEntries([...tarballs].map(([name, file]) => [name, `file:${file}`]));
  // The packages depend on each other by version (pnpm pack rewrote `workspace:*`); nothing is published, so
  // the overrides point those dependencies at the tarballs too.
  const overrides = Object.fromEntries([...tarballs.keys()].map((name) => [name, `$${name}`]));
  const manifest = {
    name: 'sluice-user-project',
    private: true,
    type: 'module',
    dependencies,
    devDependencies: { '@types/node': requireFromRoot('@types/node/package.json').version },
    overrides,
  };
  writeFileSync(join(project, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  const install = run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], project);
  expectOk(install, 'npm install of the tarballs');
}, 150_000);

afterAll(() => {
  if (temp) rmSync(temp, { recursive: true, force: true });
});

describe('the packed packages, installed into an empty project', () => {
  it('run under plain node: a chain with a part processor over merge, the fake LLM, a registry download, align', () => {
    const out = join(temp, 'out');
    const result = run(process.execPath, ['main.mjs', out], project);
    expectOk(result, 'node main.mjs');
    const report = JSON.parse(result.stdout.trim().split('\n').at(-1) ?? '');
    expect(report.words).toEqual(['A', 'B', 'C']);
    expect(report.answer).toBe('Echo: hello');
    expect(report.downloads).toBeGreaterThan(0);
    expect(report.bytes).toBeGreaterThan(0);
    expect(report.layers).toBeGreaterThan(0);
    expect(report.alignedBytes).toBeGreaterThan(0);
  });

  it('resolve to the build, never the sources', () => {
    const script =
      "for (const s of ['@sluice/streams','@sluice/core','@sluice/processors','@sluice/processors/redis'," +
      "'@sluice/processors/testing','@sluice/sdk','@sluice/sdk/testing']) console.log(import.meta.resolve(s))";
    const result = run(process.execPath, ['--input-type=module', '-e', script], project);
    expectOk(result, 'import.meta.resolve');
    const urls = result.stdout.trim().split('\n');
    expect(urls).toHaveLength(7);
    for (const url of urls) expect(url).toMatch(/\/node_modules\/@sluice\/\w+\/dist\/.+\.js$/);
  });

  it("the sdk's sluice-trace command runs from the build", () => {
    const result = run(
      process.execPath,
      [join(project, 'node_modules/@sluice/sdk/bin/sluice-trace.mjs'), '--help'],
      project,
    );
    expectOk(result, 'sluice-trace --help');
    expect(result.stdout).toContain('usage: sluice-trace');
  });

  it('typecheck under NodeNext, strict and noUncheckedIndexedAccess with skipLibCheck off', () => {
    const tsc = requireFromRoot.resolve('typescript/bin/tsc');
    const result = run(process.execPath, [tsc, '-p', 'tsconfig.json', '--listFilesOnly'], project);
    expectOk(result, 'tsc --listFilesOnly');
    // The declarations come from the tarballs' dist/, not from any .ts source.
    const files = result.stdout.split('\n').filter((f) => f.includes('/node_modules/@sluice/'));
    expect(files.length).toBeGreaterThan(20);
    for (const file of files) expect(file).toMatch(/\/dist\/.+\.d\.ts$/);
    expectOk(run(process.execPath, [tsc, '-p', 'tsconfig.json'], project), 'tsc');
  });

  it('@sluice/streams and @sluice/core bundle for the browser (esbuild) and run a pipeline in Chromium', async () => {
    // Resolved from the installed tarballs with the browser conditions: a Node built-in anywhere in the graph
    // fails the bundle.
    const bundle = await build({
      absWorkingDir: project,
      entryPoints: ['browser.mjs'],
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      write: false,
      logLevel: 'silent',
      metafile: true,
    });
    const inputs = Object.keys(bundle.metafile.inputs);
    expect(inputs.some((file) => /node_modules\/@sluice\/core\/dist\//.test(file))).toBe(true);
    expect(inputs.some((file) => /node_modules\/@sluice\/streams\/dist\//.test(file))).toBe(true);
    expect(inputs.filter((file) => file.startsWith('node:') || /\/src\/.*\.ts$/.test(file))).toEqual([]);

    const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
    if (!existsSync(executablePath)) {
      throw new Error(
        `Chromium not found at ${executablePath}: run bash scripts/install.sh (apt-get install chromium) or set CHROMIUM_PATH`,
      );
    }
    const browser = await chromium.launch({ executablePath, headless: true, args: ['--no-sandbox', '--disable-gpu'] });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (error) => errors.push(String(error)));
      await page.goto('about:blank');
      await page.addScriptTag({ type: 'module', content: bundle.outputFiles[0]!.text });
      await page.waitForFunction(() => 'sluiceResult' in globalThis, undefined, { timeout: 20_000 });
      const result = await page.evaluate(() => (globalThis as { sluiceResult?: unknown }).sluiceResult);
      expect(errors).toEqual([]);
      expect(result).toMatchObject({ echoed: ['X', 'Y', 'Z'], stopped: true });
      const { texts, userAgent } = result as { texts: string[]; userAgent: string };
      expect(texts.map((t) => t.slice(2)).sort()).toEqual(['A', 'B', 'C']);
      expect(texts.map((t) => t.slice(0, 2))).toEqual(['1:', '2:', '3:']);
      expect(userAgent).toMatch(/Chrom/);
    } finally {
      await browser.close();
    }
  });

  it.each(PACKAGES)('@sluice/%s passes publint and @arethetypeswrong/cli (ESM only)', (name) => {
    const file = tarballs.get(`@sluice/${name}`)!;
    const publint = run('pnpm', ['exec', 'publint', 'run', '--strict', file], ROOT, { ...userEnv(), NODE_OPTIONS: '' });
    expectOk(publint, `publint ${name}`);
    expect(publint.stdout).toContain('All good!');
    // The packages are ESM only (`type: module`, `import` conditions): the esm-only profile leaves out the
    // node10 and require() resolutions, which cannot load them by design.
    const attw = run('pnpm', ['exec', 'attw', file, '--profile', 'esm-only', '--format', 'ascii'], ROOT);
    expectOk(attw, `attw ${name}`);
    // Every entry point (with ./package.json) resolves cleanly under node16 from ESM and under bundlers.
    const rows = attw.stdout.split('\n').filter((line) => /^(node16 \(from ESM\)|bundler):/.test(line));
    expect(rows.length).toBeGreaterThanOrEqual(4);
    for (const row of rows) expect(row).toContain('🟢');
    const problems = attw.stdout
      .split('\n')
      .filter((line) => /❌|💀|🥴|🚭|🐛/u.test(line) && !line.includes('(ignored'));
    expect(problems).toEqual([]);
  });
});
