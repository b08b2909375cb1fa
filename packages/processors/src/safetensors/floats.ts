// Tensor bytes to numbers and back, for the float dtypes (F64, F32, F16, BF16).

import { dtypeBytes } from './dtypes.ts';
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from './float16.js';

/** Decodes little-endian F64/F32/F16/BF16 bytes to numbers (exact). Throws RangeError for other dtypes. */
export function decodeFloats(dtype: string, bytes: Uint8Array): Float64Array<ArrayBuffer> {
  const size = dtypeBytes(dtype);
  if (bytes.length % size !== 0) throw new RangeError(`${bytes.length} bytes is not a whole number of ${dtype}`);
  const count = bytes.length / size;
  const own = bytes.byteOffset % 8 === 0 ? bytes : bytes.slice();
  const out = new Float64Array(count);
  switch (dtype) {
    case 'F64':
      out.set(new Float64Array(own.buffer, own.byteOffset, count));
      break;
    case 'F32':
      out.set(new Float32Array(own.buffer, own.byteOffset, count));
      break;
    case 'F16':
    case 'BF16': {
      const bits = new Uint16Array(own.buffer, own.byteOffset, count);
      for (let i = 0; i < count; i++) out[i] = dtype === 'F16' ? f16ToF32(bits[i]!) : bf16ToF32(bits[i]!);
      break;
    }
    default:
      throw new RangeError(`cannot decode ${dtype} as floating point`);
  }
  return out;
}

/** Encodes numbers as little-endian F64/F32/F16/BF16 bytes (rounding to nearest even, through binary32 for 16-bit). */
export function encodeFloats(dtype: string, values: ArrayLike<number>): Uint8Array {
  switch (dtype) {
    case 'F64':
      return new Uint8Array(Float64Array.from(values).buffer);
    case 'F32':
      return new Uint8Array(Float32Array.from(values).buffer);
    case 'F16':
      return new Uint8Array(Uint16Array.from(Array.from(values, (v) => f32ToF16(v))).buffer);
    case 'BF16':
      return new Uint8Array(Uint16Array.from(Array.from(values, (v) => f32ToBf16(v))).buffer);
    default:
      throw new RangeError(`cannot encode ${dtype} from numbers`);
  }
}
