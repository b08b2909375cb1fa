// Errors of `align`: what a delta package can get wrong against its base. Each extends
// `WeightsError` with a stable `code` (the table is in docs/errors.md) and a `hint`.

import { WeightsError } from '../safetensors/errors.ts';

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
