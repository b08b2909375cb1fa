// Loading node-llama-cpp, an optional peer dependency: the package is imported only when a
// llamaCpp() processor first runs, a missing package is an error naming what to install, and the
// native binding is chosen from prebuilt binaries only (never downloaded or built at run time).

import { LocalModelError, MissingPackageError } from './llama-cpp-errors.ts';

/** The exact version of node-llama-cpp this processor is written and tested against. */
export const NODE_LLAMA_CPP_VERSION = '3.21.1';

/** The module node-llama-cpp, as `import()` gives it. */
export type LlamaCppModule = typeof import('node-llama-cpp');
/** A loaded llama.cpp binding. */
export type Llama = Awaited<ReturnType<LlamaCppModule['getLlama']>>;

function isMissingModule(error: unknown, name: string): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : '';
  return (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && message.includes(name);
}

/**
 * Imports node-llama-cpp through `importer` (the real dynamic import by default); a missing
 * package rejects with `MissingPackageError`, any other failure passes through unchanged.
 */
export async function importLlamaCpp(
  importer: () => Promise<LlamaCppModule> = () => import('node-llama-cpp'),
): Promise<LlamaCppModule> {
  try {
    return await importer();
  } catch (error) {
    if (isMissingModule(error, 'node-llama-cpp')) {
      throw new MissingPackageError('llamaCpp', 'node-llama-cpp', NODE_LLAMA_CPP_VERSION, error);
    }
    throw error;
  }
}

const bindings = new Map<string, Promise<Llama>>();

/**
 * The llama.cpp binding for a GPU choice, loaded once per process and shared by every llamaCpp()
 * processor (the binding is stateless between models). `false` loads the CPU build; `'auto'` the
 * best prebuilt build that works here; `true` the same but fails when no GPU build works. Never
 * downloads or compiles anything: without a working prebuilt binary it fails with LocalModelError.
 */
export function loadBinding(gpu: boolean | 'auto'): Promise<Llama> {
  const key = String(gpu);
  let loading = bindings.get(key);
  if (!loading) {
    loading = (async () => {
      const { getLlama } = await importLlamaCpp();
      let llama: Llama;
      try {
        llama = await getLlama({ gpu: gpu === false ? false : 'auto', build: 'never', skipDownload: true });
      } catch (error) {
        throw new LocalModelError(
          `llamaCpp: no prebuilt llama.cpp binary works on this machine (${(error as Error).message})`,
          `install node-llama-cpp@${NODE_LLAMA_CPP_VERSION} with its optional dependencies for this platform (e.g. @node-llama-cpp/${process.platform}-${process.arch}); Sluice never builds llama.cpp itself`,
          error,
        );
      }
      if (gpu === true && llama.gpu === false) {
        throw new LocalModelError(
          'llamaCpp: gpu: true was asked for, but no GPU build of llama.cpp works on this machine',
          `install the GPU package of node-llama-cpp for this platform (e.g. @node-llama-cpp/${process.platform}-${process.arch}-cuda or -vulkan), or pass gpu: 'auto' to fall back to the CPU`,
        );
      }
      return llama;
    })();
    bindings.set(key, loading);
    // A failed load is not cached: the next run tries again (after the user installed something).
    loading.catch(() => bindings.delete(key));
  }
  return loading;
}
