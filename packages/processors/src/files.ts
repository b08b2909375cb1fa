// File-system helpers shared by `download`, `align` and the safetensors writer: the durable half of
// writing a file atomically (temp file, fsync, rename, fsync the folder).

import { open } from 'node:fs/promises';

/**
 * fsyncs the folder `path` so that a rename into it survives a crash. Best effort: a folder that
 * cannot be opened or synced (some file systems and platforms refuse) is left as it is.
 */
export async function syncDir(path: string): Promise<void> {
  const handle = await open(path, 'r').catch(() => undefined);
  if (!handle) return;
  await handle
    .sync()
    .catch(() => {})
    .finally(() => handle.close());
}
