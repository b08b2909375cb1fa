// Errors of the weights processors. One class per failure kind, each with a
// stable string `code` (see WEIGHTS.md) and a `hint` saying what to do.

/** Codes carried by every weights error; stable, safe to switch on. */
export type WeightsErrorCode =
  | 'E_FORMAT'
  | 'E_UNMATCHED'
  | 'E_CONFLICT'
  | 'E_SHAPE'
  | 'E_DTYPE'
  | 'E_NONFINITE'
  | 'E_OUTPUT'
  | 'E_DOWNLOAD'
  | 'E_UNSAFE_PATH';

/** Base class of the weights errors: `code` is stable, `hint` says what to do about it. */
export class WeightsError extends Error {
  readonly code: WeightsErrorCode;
  readonly hint: string | undefined;
  constructor(code: WeightsErrorCode, message: string, options?: { hint?: string; cause?: unknown }) {
    super(options?.hint ? `${message} (hint: ${options.hint})` : message, { cause: options?.cause });
    this.name = 'WeightsError';
    this.code = code;
    this.hint = options?.hint;
  }
}

/** Why a safetensors file was refused; `FormatError.reason`. */
export type FormatReason =
  | 'too-short'
  | 'header-too-large'
  | 'invalid-utf8'
  | 'invalid-json'
  | 'invalid-header-start'
  | 'invalid-metadata'
  | 'invalid-entry'
  | 'unknown-dtype'
  | 'duplicate-name'
  | 'invalid-offsets'
  | 'size-mismatch'
  | 'size-overflow'
  | 'data-length'
  | 'invalid-index';

/** A file that is not valid safetensors (or a sharded index that is not valid); `reason` says which check failed. */
export class FormatError extends WeightsError {
  readonly reason: FormatReason;
  readonly path: string | undefined;
  constructor(reason: FormatReason, message: string, options?: { path?: string; hint?: string; cause?: unknown }) {
    super('E_FORMAT', options?.path ? `${options.path}: ${message}` : message, options);
    this.name = 'FormatError';
    this.reason = reason;
    this.path = options?.path;
  }
}

/** Delta-package tensors that match no base tensor (or an incomplete LoRA pair); `names` lists them. */
export class UnmatchedError extends WeightsError {
  readonly names: readonly string[];
  constructor(names: readonly string[], message?: string) {
    super('E_UNMATCHED', message ?? `delta package tensors match no base tensor: ${names.join(', ')}`, {
      hint: 'check that the package was made for this base model (names must equal base names, or be LoRA pairs <stem>.lora_A.weight/<stem>.lora_B.weight)',
    });
    this.name = 'UnmatchedError';
    this.names = names;
  }
}

/** A base tensor that a package modifies both with a full delta and with a LoRA pair. */
export class DeltaConflictError extends WeightsError {
  readonly tensor: string;
  constructor(tensor: string) {
    super('E_CONFLICT', `base tensor ${tensor} has both a full delta and a LoRA pair in the package`, {
      hint: 'keep one form per tensor',
    });
    this.name = 'DeltaConflictError';
    this.tensor = tensor;
  }
}

/** Shapes that do not fit: a full delta unlike its base tensor, or LoRA factors that do not multiply to it. */
export class ShapeError extends WeightsError {
  readonly tensor: string;
  constructor(tensor: string, message: string) {
    super('E_SHAPE', `${tensor}: ${message}`, { hint: 'the package was probably made for another model size' });
    this.name = 'ShapeError';
    this.tensor = tensor;
  }
}

/** Arithmetic asked of a tensor whose dtype is not F32, F16 or BF16. */
export class DtypeError extends WeightsError {
  readonly tensor: string;
  readonly dtype: string;
  constructor(tensor: string, dtype: string) {
    super('E_DTYPE', `${tensor}: cannot apply a delta to dtype ${dtype}; arithmetic is defined on F32, F16 and BF16`, {
      hint: 'leave non-float tensors out of the delta package',
    });
    this.name = 'DtypeError';
    this.tensor = tensor;
    this.dtype = dtype;
  }
}

/** A weight that was finite became NaN or ±Inf after the delta was applied. */
export class NonFiniteError extends WeightsError {
  readonly tensor: string;
  readonly index: number;
  constructor(tensor: string, index: number, before: number, after: number) {
    super('E_NONFINITE', `${tensor}[${index}]: ${before} became ${after} after applying the delta`, {
      hint: 'lower the strength, or check the package for huge or non-finite values (16-bit dtypes overflow early)',
    });
    this.name = 'NonFiniteError';
    this.tensor = tensor;
    this.index = index;
  }
}

/** Why a file name was refused; `UnsafePathError.reason`. */
export type UnsafePathReason = 'not-relative' | 'escapes' | 'names-folder' | 'symlink';

/**
 * A file name (from a request, a server or a registry) that does not name a file inside its folder:
 * empty, absolute, with a backslash or control character, escaping the folder (`../x`), naming a
 * folder, or reaching through a symbolic link in the folder that leads outside it. Nothing was written.
 */
export class UnsafePathError extends WeightsError {
  readonly reason: UnsafePathReason;
  readonly filename: string;
  readonly folder: string;
  constructor(reason: UnsafePathReason, filename: string, folder: string, why: string) {
    super('E_UNSAFE_PATH', `refused filename ${JSON.stringify(filename)}: ${why}`, {
      hint:
        reason === 'symlink'
          ? 'remove or replace the link, or choose another folder'
          : 'the name came from the request or the server; name the file yourself (a path inside the folder)',
    });
    this.name = 'UnsafePathError';
    this.reason = reason;
    this.filename = filename;
    this.folder = folder;
  }
}
