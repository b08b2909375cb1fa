// Shared test helpers: temporary folders and servers that are removed/stopped
// when the test finishes, whatever its outcome.

import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type FakeModelServer, type FakeModelServerOptions, startFakeModelServer } from '@sluice/processors/testing';
import { onTestFinished } from 'vitest';
import { Client, type ClientOptions } from '../src/index.ts';
import { type RegistryServer, type RegistryServerOptions, startRegistryServer } from '../src/testing/index.ts';

/** A fresh temporary folder, deleted after the test. */
export async function tempDir(prefix = 'sluice-sdk-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A fake model server stopped after the test. */
export async function modelServer(options: FakeModelServerOptions): Promise<FakeModelServer> {
  const server = await startFakeModelServer(options);
  onTestFinished(() => server.close());
  return server;
}

/** A testing registry stopped after the test. */
export async function registry(options: RegistryServerOptions = {}): Promise<RegistryServer> {
  const server = await startRegistryServer(options);
  onTestFinished(() => server.close());
  return server;
}

/** A client of `server`, closed after the test; its cache folder is a fresh temporary folder. */
export async function clientOf(server: RegistryServer, options: ClientOptions = {}): Promise<Client> {
  const client = new Client({
    baseURL: server.baseURL,
    apiKey: server.apiKey,
    cacheDir: options.cacheDir ?? (await tempDir('sluice-cache-')),
    env: {},
    ...options,
  });
  onTestFinished(() => client.close());
  return client;
}

/** Names in `dir` (an empty list when it does not exist). */
export async function filesIn(dir: string): Promise<string[]> {
  return (await readdir(dir).catch(() => [] as string[])).sort();
}
