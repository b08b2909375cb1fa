// The dtypes of the safetensors format: their sizes, which ones `align` computes on, and the
// size of a tensor from its shape (checked arithmetic).

import { FormatError } from './errors.ts';

/**
 * Bits per element of every dtype the format defines; arithmetic is done on F32, F16 and BF16 only.
 * The table has no prototype, so a dtype named `toString` or `__proto__` is as unknown as `F128`;
 * look names up with `dtypeBits`, which also checks that the name is the table's own.
 */
export const DTYPE_BITS: Readonly<Record<string, number>> = Object.freeze(
  Object.assign(Object.create(null) as Record<string, number>, {
    BOOL: 8,
    U8: 8,
    I8: 8,
    F8_E5M2: 8,
    F8_E4M3: 8,
    F8_E8M0: 8,
    I16: 16,
    U16: 16,
    F16: 16,
    BF16: 16,
    I32: 32,
    U32: 32,
    F32: 32,
    C64: 64,
    F64: 64,
    I64: 64,
    U64: 64,
    F4: 4,
    F6_E2M3: 6,
    F6_E3M2: 6,
  }),
);

/** Bits per element of `dtype`, or undefined when the format defines no such dtype. */
export function dtypeBits(dtype: string): number | undefined {
  return typeof dtype === 'string' && Object.hasOwn(DTYPE_BITS, dtype) ? DTYPE_BITS[dtype] : undefined;
}

/** The dtypes `align` does arithmetic on. */
export type FloatDtype = 'F32' | 'F16' | 'BF16';

/** True for F32, F16 and BF16, the dtypes a delta can be applied to. */
export function isFloatDtype(dtype: string): dtype is FloatDtype {
  return dtype === 'F32' || dtype === 'F16' || dtype === 'BF16';
}

/** Number of elements of a shape (1 for a scalar); throws FormatError past 2^53. */
export function elementCount(shape: readonly number[]): number {
  let n = 1n;
  for (const d of shape) n *= BigInt(d);
  if (n > BigInt(Number.MAX_SAFE_INTEGER)) throw new FormatError('size-overflow', `shape [${shape}] is too large`);
  return Number(n);
}

/** Bytes of a tensor of `dtype` and `shape`, with checked arithmetic; throws FormatError on overflow or partial bytes. */
export function tensorByteLength(dtype: string, shape: readonly number[]): number {
  const bits = dtypeBits(dtype);
  if (bits === undefined) throw new FormatError('unknown-dtype', `unknown dtype ${JSON.stringify(dtype)}`);
  let total = BigInt(bits);
  for (const d of shape) total *= BigInt(d);
  if (total % 8n !== 0n) throw new FormatError('size-mismatch', `${dtype}[${shape}] does not fill whole bytes`);
  const bytes = total / 8n;
  if (bytes > BigInt(Number.MAX_SAFE_INTEGER))
    throw new FormatError('size-overflow', `${dtype}[${shape}] is too large`);
  return Number(bytes);
}

/** Bytes per element of a byte-aligned dtype (F32: 4, BF16: 2, ...). */
export function dtypeBytes(dtype: string): number {
  const bits = dtypeBits(dtype);
  if (bits === undefined || bits % 8 !== 0)
    throw new FormatError('unknown-dtype', `dtype ${dtype} has no whole-byte size`);
  return bits / 8;
}
