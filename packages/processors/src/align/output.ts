// The output files of `align`: each base file's copy is written to a `*.partial` sibling (a folder of them for a
// folder base), whole pages straight to the disk (O_DIRECT) where the file system takes it, the rest through the
// page cache; `commit` fsyncs and renames it into place (swapping an existing folder aside), `discard` deletes it
// and the parent folders the run created. Nothing is left at the final path unless `commit` finished.

import { constants as fsConstants } from 'node:fs';
import { type FileHandle, mkdir, open, rename, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { syncDir } from '../files.ts';
import {
  encodeSafetensorsHeader,
  INDEX_FILE,
  partialPath,
  type SafetensorsFile,
  type WeightsModel,
  writeFully,
} from '../safetensors/index.ts';

const noop = () => {};

/** Bytes written through the page cache between two background flushes (so the disk works while the worker computes). */
const FLUSH_EVERY = 8 * 1024 * 1024;
/** Direct writes (O_DIRECT) need file offsets, lengths and memory addresses that are multiples of this. */
export const PAGE = 4096;
/** Blocks of at least this many bytes are cut at page boundaries of the output so that they can be written directly. */
export const DIRECT_MIN_BLOCK = 64 * 1024;
/** O_DIRECT where the platform has it (Linux), else 0 (no direct writes). */
const O_DIRECT: number = fsConstants.O_DIRECT ?? 0;

/** `n` rounded down to a multiple of PAGE. */
export const alignDown = (n: number) => n - (n % PAGE);
const alignUp = (n: number) => alignDown(n + PAGE - 1);

/**
 * Where one base file's tensors go: the partial output, opened twice: a plain handle, and (where the file system
 * takes O_DIRECT) a direct one. Whole pages of a block go straight from the arena to the disk: no copy into the
 * page cache, nothing left to flush at the fsync; the unaligned ends of blocks and the header go through the page
 * cache. Both write disjoint pages, so they never race on one. The final fsync covers both.
 */
export interface OutputFile {
  readonly handle: FileHandle;
  readonly dataStart: number;
  /** True while direct writes work on this file (else every write goes through the page cache). */
  readonly direct: boolean;
  /** Writes all of `bytes` at `position`. */
  write(bytes: Uint8Array, position: number): Promise<void>;
  /** The background flushes still running (awaited before the final fsync and before closing). */
  flushed(): Promise<void>;
  /** Waits for the flushes and closes both handles. */
  close(): Promise<void>;
}

function outputFile(handle: FileHandle, directHandle: FileHandle | undefined, dataStart: number): OutputFile {
  let unflushed = 0;
  let flushing: Promise<void> = Promise.resolve();
  let direct = directHandle;
  const buffered = async (bytes: Uint8Array, position: number) => {
    await writeFully(handle, bytes, position);
    unflushed += bytes.length;
    if (unflushed < FLUSH_EVERY) return;
    unflushed = 0;
    flushing = flushing.then(() => handle.datasync());
    flushing.catch(noop);
  };
  /** Whole pages, straight to the disk; what a refused or short direct write leaves goes through the page cache. */
  const straight = async (bytes: Uint8Array, position: number) => {
    let done = 0;
    try {
      while (direct && done < bytes.length) {
        const { bytesWritten } = await direct.write(bytes, done, bytes.length - done, position + done);
        done += bytesWritten;
        if (bytesWritten === 0 || done % PAGE !== 0) break;
      }
    } catch (error) {
      // EINVAL: this file system or device refuses these direct writes; the page cache takes the rest of the file.
      if ((error as NodeJS.ErrnoException).code !== 'EINVAL') throw error;
      direct = undefined;
    }
    if (done < bytes.length) await buffered(bytes.subarray(done), position + done);
  };
  return {
    handle,
    dataStart,
    get direct() {
      return direct !== undefined;
    },
    async write(bytes, position) {
      const end = position + bytes.length;
      const from = alignUp(position);
      const to = alignDown(end);
      if (!direct || to - from < PAGE || (bytes.byteOffset + from - position) % PAGE !== 0) {
        return buffered(bytes, position);
      }
      await Promise.all([
        from > position ? buffered(bytes.subarray(0, from - position), position) : undefined,
        straight(bytes.subarray(from - position, to - position), from),
        end > to ? buffered(bytes.subarray(to - position), to) : undefined,
      ]);
    },
    flushed: () => flushing,
    async close() {
      await flushing.then(noop, noop);
      await Promise.allSettled([handle.close(), directHandle?.close()]);
    },
  };
}

/** A second handle on `path` with O_DIRECT, or undefined where the platform or file system does not take it. */
async function openDirect(path: string): Promise<FileHandle | undefined> {
  if (O_DIRECT === 0) return undefined;
  return open(path, fsConstants.O_WRONLY | O_DIRECT).catch(() => undefined);
}

/** The output of one run: an OutputFile per base file (keyed by the base file it copies). */
export interface Output {
  readonly files: ReadonlyMap<SafetensorsFile, OutputFile>;
  /** Fsyncs every file, writes the index (sharded base), renames the partial into place and fsyncs its folder. */
  commit(): Promise<void>;
  /** Closes the files and, unless committed, deletes the partial and the parent folders this run created. */
  discard(): Promise<void>;
}

/**
 * Creates the partial output of `base` next to `outputPath` (each file's header written, its data area sized), with
 * `metadata` added to every header's `__metadata__`. A failure here discards what it made.
 */
export async function createOutput(
  base: WeightsModel,
  outputPath: string,
  metadata: Record<string, string>,
): Promise<Output> {
  const temp = partialPath(outputPath);
  const files = new Map<SafetensorsFile, OutputFile>();
  let committed = false;
  // The output's parent folder may not exist yet: create it, and remember the first folder made so that a failed
  // run can remove the (then empty) folders it made.
  const parent = dirname(outputPath);
  const madeFrom = await mkdir(parent, { recursive: true });
  const closeAll = () => Promise.allSettled([...files.values()].map((f) => f.close()));
  const output: Output = {
    files,
    async commit() {
      for (const f of files.values()) {
        await f.flushed();
        await f.handle.sync();
      }
      await closeAll();
      if (base.isFolder) {
        if (base.index) {
          const index = { ...base.index.raw, metadata: { ...base.index.metadata, ...metadata } };
          const indexPath = join(temp, INDEX_FILE);
          await writeFile(indexPath, `${JSON.stringify(index, null, 2)}\n`);
          const h = await open(indexPath, 'r+');
          await h.sync().finally(() => h.close());
        }
        await syncDir(temp);
        await replaceFolder(temp, outputPath);
      } else {
        await rename(temp, outputPath);
      }
      committed = true;
      await syncDir(dirname(outputPath));
    },
    async discard() {
      await closeAll();
      if (committed) return;
      await rm(temp, { recursive: true, force: true });
      if (madeFrom !== undefined) await removeEmptyFolders(parent, madeFrom);
    },
  };
  try {
    if (base.isFolder) await mkdir(temp);
    for (const file of base.files) {
      const path = base.isFolder ? join(temp, basename(file.path)) : temp;
      const handle = await open(path, 'wx');
      const direct = await openDirect(path).catch(async (error: unknown) => {
        await handle.close();
        throw error;
      });
      const header = encodeSafetensorsHeader(
        file.tensors,
        { ...file.metadata, ...metadata },
        {
          metadataIndex: file.header.metadataIndex,
        },
      );
      files.set(file, outputFile(handle, direct, header.length));
      await writeFully(handle, header, 0);
      await handle.truncate(header.length + file.header.dataSize);
    }
  } catch (error) {
    await output.discard();
    throw error;
  }
  return output;
}

/** Removes `from` and its parents up to `upTo` (both included) while they are empty; never a folder with files. */
async function removeEmptyFolders(from: string, upTo: string): Promise<void> {
  const stop = resolve(upTo);
  for (let folder = resolve(from); ; folder = dirname(folder)) {
    try {
      await rmdir(folder);
    } catch {
      return;
    }
    if (folder === stop || dirname(folder) === folder) return;
  }
}

/** Replaces the folder `target` by `source`: a folder cannot be renamed over a non-empty one, so the old one moves aside first. */
async function replaceFolder(source: string, target: string): Promise<void> {
  const existing = await stat(target).catch(() => undefined);
  if (!existing) return rename(source, target);
  const aside = partialPath(`${target}.old`);
  await rename(target, aside);
  try {
    await rename(source, target);
  } catch (error) {
    await rename(aside, target);
    throw error;
  }
  await rm(aside, { recursive: true, force: true });
}
