// The errors of `llamaCpp`, in a module of their own so that the public types never reference the
// optional package node-llama-cpp (a user without it still typechecks with skipLibCheck off).

import { SluiceError } from '@sluice/streams';

/** An optional package the processor needs is not installed. */
export class MissingPackageError extends SluiceError {
  override name = 'MissingPackageError';
  declare readonly code: 'E_MISSING_PACKAGE';
  declare readonly hint: string;
  /** The package to install, e.g. 'node-llama-cpp'. */
  readonly packageName: string;
  constructor(who: string, packageName: string, version: string, cause?: unknown) {
    const hint = `install it next to @sluice/processors: npm install ${packageName}@${version} (or pnpm add ${packageName}@${version})`;
    super('E_MISSING_PACKAGE', `${who}: the optional package ${packageName} is not installed; ${hint}`, {
      hint,
      cause,
    });
    this.packageName = packageName;
  }
}

/** The in-process model could not be loaded or run: no native binary, no GPU build, a bad model file. */
export class LocalModelError extends SluiceError {
  override name = 'LocalModelError';
  declare readonly code: 'E_LOCAL_MODEL';
  declare readonly hint: string;
  constructor(message: string, hint: string, cause?: unknown) {
    super('E_LOCAL_MODEL', `${message}; ${hint}`, { hint, cause });
  }
}
