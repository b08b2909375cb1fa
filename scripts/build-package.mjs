#!/usr/bin/env node
// Builds the package in the current directory (run by its `build` script): ESM JavaScript, .d.ts and declaration
// maps from src/ into dist/ with tsc (tsconfig.build.json), then copies the plain-JavaScript files and their
// hand-written .d.ts (the align kernels and worker, the float16 tables) beside them, so that what the build
// loads at run time (`new URL('./align-worker.js', import.meta.url)`, relative imports) is found in dist/.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';

const cwd = process.cwd();
rmSync(join(cwd, 'dist'), { recursive: true, force: true });
const tsc = createRequire(join(cwd, 'package.json')).resolve('typescript/bin/tsc');
const run = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { stdio: 'inherit', cwd });
if (run.status !== 0) process.exit(run.status ?? 1);

/** The files under `dir` whose names end with one of `endings`, recursively. */
function filesIn(dir, endings) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...filesIn(path, endings));
    else if (endings.some((ending) => name.endsWith(ending))) out.push(path);
  }
  return out;
}

// tsc rewrites `./x.ts` to `./x.js` in the JavaScript it emits but not in the declarations: rewrite them there
// (same length, so the declaration maps stay exact).
const relativeTs = /((?:from|import)\s*\(?\s*)(['"])(\.{1,2}\/[^'"]*?)\.ts\2/g;
for (const file of filesIn(join(cwd, 'dist'), ['.d.ts'])) {
  const text = readFileSync(file, 'utf8');
  const rewritten = text.replace(relativeTs, '$1$2$3.js$2');
  if (rewritten !== text) writeFileSync(file, rewritten);
}

/** Files under src/ that tsc does not emit but the build needs: plain .js modules and their .d.ts. */
const assets = (dir) => filesIn(dir, ['.js', '.d.ts']);
const src = join(cwd, 'src');
let copied = 0;
for (const file of assets(src)) {
  const to = join(cwd, 'dist', relative(src, file));
  cpSync(file, to);
  copied++;
}
if (!existsSync(join(cwd, 'dist', 'index.js'))) {
  console.error(`build: ${relative(process.cwd(), join(cwd, 'dist', 'index.js'))} is missing after tsc`);
  process.exit(1);
}
console.log(`built ${relative(join(cwd, '..', '..'), cwd)}${copied ? ` (${copied} assets copied)` : ''}`);
