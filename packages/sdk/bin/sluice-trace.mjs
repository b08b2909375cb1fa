#!/usr/bin/env node
// The sluice-trace command: loads the TypeScript sources through tsx, then starts the viewer.
import { register } from 'tsx/esm/api';

register();
await import('../src/tracing/viewer/cli.ts');
