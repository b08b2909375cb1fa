#!/usr/bin/env node
// The sluice-trace command: starts the trace viewer from the build (dist/). Inside the Sluice workspace, where the
// `sluice-source` export condition is set (.npmrc) or there is no build yet, it loads the TypeScript sources
// through tsx instead.
import { existsSync } from 'node:fs';

const built = new URL('../dist/tracing/viewer/cli.js', import.meta.url);
const flags = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
const fromSource = flags.some((flag) => /^(--conditions|-C)=?sluice-source$/.test(flag)) || !existsSync(built);
if (fromSource) {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/tracing/viewer/cli.ts');
} else {
  await import(built.href);
}
