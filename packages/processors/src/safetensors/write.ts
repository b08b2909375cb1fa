// Writing a whole safetensors file atomically (sibling `.partial`, fsync, rename).

import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { writeFully } from './file.ts';
import { encodeSafetensorsHeader, layoutTensors } from './header.ts';

/** A tensor to write: its bytes are row-major little-endian. */
export interface TensorData {
  readonly name: string;
  readonly dtype: string;
  readonly shape: readonly number[];
  readonly data: ArrayBufferView;
}

/** A sibling temp path `<path>.<random>.partial`, in the same folder so that rename is atomic. */
export function partialPath(path: string): string {
  return `${path}.${randomBytes(6).toString('hex')}.partial`;
}

/**
 * Writes a whole safetensors file atomically (sibling `.partial`, fsync, rename), tensors in the order given.
 * For small and medium files (every tensor is in memory); `align` streams instead. On error, nothing is left behind.
 */
export async function writeSafetensors(
  path: string,
  tensors: readonly TensorData[],
  metadata: Readonly<Record<string, string>> = {},
): Promise<void> {
  const layout = layoutTensors(tensors);
  const header = encodeSafetensorsHeader(layout, metadata);
  const temp = partialPath(path);
  const handle = await open(temp, 'w');
  try {
    await writeFully(handle, header, 0);
    let position = header.length;
    for (const [i, t] of tensors.entries()) {
      const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
      const [begin, end] = layout[i]!.dataOffsets;
      const expected = end - begin;
      if (bytes.length !== expected) {
        throw new RangeError(`tensor ${t.name}: ${bytes.length} bytes given, ${t.dtype}[${t.shape}] needs ${expected}`);
      }
      await writeFully(handle, bytes, position);
      position += bytes.length;
    }
    await handle.sync();
    await handle.close();
    await rename(temp, path);
  } catch (error) {
    await handle.close().catch(() => {});
    await rm(temp, { force: true });
    throw error;
  }
}
