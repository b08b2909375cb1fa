// A base model: one `.safetensors` file, a sharded folder (`model.safetensors.index.json`), or a
// folder with a single `model.safetensors`.

import { readFile, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { FormatError } from './errors.ts';
import { openSafetensors, type SafetensorsFile } from './file.ts';
import type { TensorInfo } from './header.ts';

/** Name of the index file of a sharded model. */
export const INDEX_FILE = 'model.safetensors.index.json';
/** Name of the single file of an unsharded model folder. */
export const SINGLE_FILE = 'model.safetensors';

/** A tensor of a model and the file (shard) that holds it. */
export interface ModelTensor {
  readonly name: string;
  readonly file: SafetensorsFile;
  readonly info: TensorInfo;
}

/** The parsed `model.safetensors.index.json`; `raw` is the whole JSON object, other keys included. */
export interface ModelIndex {
  readonly metadata: Readonly<Record<string, unknown>>;
  readonly weightMap: Readonly<Record<string, string>>;
  readonly raw: Readonly<Record<string, unknown>>;
}

/** A base model: one `.safetensors` file, or a folder with an index and shards (or with a single `model.safetensors`). */
export interface WeightsModel extends AsyncDisposable {
  readonly path: string;
  /** True when the model is a folder with `model.safetensors.index.json`. */
  readonly sharded: boolean;
  /** True when `path` is a folder (sharded or holding a single `model.safetensors`). */
  readonly isFolder: boolean;
  /** The files, in index order for a sharded model. */
  readonly files: readonly SafetensorsFile[];
  /** All tensors: shard by shard, each in header order. */
  readonly tensors: readonly ModelTensor[];
  /** The parsed index file of a sharded model. */
  readonly index: ModelIndex | undefined;
  tensor(name: string): ModelTensor | undefined;
  close(): Promise<void>;
}

/**
 * Opens a model: a `.safetensors` file, or a folder with `model.safetensors.index.json` (every shard opened and
 * validated, the weight map checked against the shards) or with `model.safetensors`. Throws FormatError.
 */
export async function openModel(path: string): Promise<WeightsModel> {
  const info = await stat(path);
  const files: SafetensorsFile[] = [];
  try {
    if (!info.isDirectory()) {
      files.push(await openSafetensors(path));
      return makeModel(path, false, false, files, undefined);
    }
    const indexPath = join(path, INDEX_FILE);
    let indexText: string | undefined;
    try {
      indexText = await readFile(indexPath, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    if (indexText === undefined) {
      files.push(
        await openSafetensors(join(path, SINGLE_FILE)).catch((error: NodeJS.ErrnoException) => {
          if (error.code === 'ENOENT') {
            throw new FormatError('invalid-index', `folder has neither ${INDEX_FILE} nor ${SINGLE_FILE}`, { path });
          }
          throw error;
        }),
      );
      return makeModel(path, false, true, files, undefined);
    }
    const index = parseIndex(indexText, indexPath);
    const shardNames = [...new Set(Object.values(index.weightMap))];
    for (const shard of shardNames) files.push(await openSafetensors(join(path, shard)));
    const model = makeModel(path, true, true, files, index);
    for (const t of model.tensors) {
      if (index.weightMap[t.name] !== basename(t.file.path)) {
        throw new FormatError(
          'invalid-index',
          `tensor ${t.name} is in ${basename(t.file.path)} but the index says ${index.weightMap[t.name] ?? 'nothing'}`,
          { path: indexPath },
        );
      }
    }
    for (const name of Object.keys(index.weightMap)) {
      if (!model.tensor(name)) {
        throw new FormatError('invalid-index', `tensor ${name} is in the index but not in ${index.weightMap[name]}`, {
          path: indexPath,
        });
      }
    }
    return model;
  } catch (error) {
    await Promise.allSettled(files.map((f) => f.close()));
    throw error;
  }
}

function parseIndex(text: string, path: string): ModelIndex {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new FormatError('invalid-index', `not valid JSON: ${(cause as Error).message}`, { path, cause });
  }
  const record = (typeof json === 'object' && json !== null ? json : {}) as Record<string, unknown>;
  const weightMap = record.weight_map;
  if (typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap)) {
    throw new FormatError('invalid-index', 'weight_map is missing or not an object', { path });
  }
  const folder = resolve(dirname(path));
  for (const [name, shard] of Object.entries(weightMap)) {
    if (
      typeof shard !== 'string' ||
      shard === '' ||
      !resolve(folder, shard).startsWith(folder + sep) ||
      shard.includes('/') ||
      shard.includes('\\')
    ) {
      throw new FormatError(
        'invalid-index',
        `weight_map[${JSON.stringify(name)}] is not a shard file name in the folder`,
        { path },
      );
    }
  }
  const metadata = record.metadata;
  return {
    metadata: typeof metadata === 'object' && metadata !== null ? (metadata as Record<string, unknown>) : {},
    weightMap: weightMap as Record<string, string>,
    raw: record,
  };
}

function makeModel(
  path: string,
  sharded: boolean,
  isFolder: boolean,
  files: SafetensorsFile[],
  index: WeightsModel['index'],
): WeightsModel {
  const tensors: ModelTensor[] = [];
  const byName = new Map<string, ModelTensor>();
  for (const file of files) {
    for (const t of file.tensors) {
      if (byName.has(t.name)) {
        throw new FormatError(
          'duplicate-name',
          `tensor ${t.name} is in ${basename(byName.get(t.name)!.file.path)} and ${basename(file.path)}`,
          { path },
        );
      }
      const entry = { name: t.name, file, info: t };
      tensors.push(entry);
      byName.set(t.name, entry);
    }
  }
  const model: WeightsModel = {
    path,
    sharded,
    isFolder,
    files,
    tensors,
    index,
    tensor: (name) => byName.get(name),
    close: async () => {
      await Promise.allSettled(files.map((f) => f.close()));
    },
    [Symbol.asyncDispose]: () => model.close(),
  };
  return model;
}
