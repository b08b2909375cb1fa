// Types of float16.js (plain JavaScript so the align worker can load it without a TypeScript loader).

/** Every F16 bit pattern decoded to binary32 (NaN payloads kept). */
export declare const F16_TO_F32: Float32Array;
/** Rounds binary32 bits to F16 bits: nearest, ties to even; overflow to ±Inf, gradual underflow. */
export declare function f32BitsToF16Bits(x: number): number;
/** Rounds binary32 bits to BF16 bits: nearest, ties to even; overflow to ±Inf; NaN stays quiet NaN. */
export declare function f32BitsToBf16Bits(x: number): number;
/** F16 bits to their exact value. */
export declare function f16ToF32(h: number): number;
/** BF16 bits to their exact value (`bits << 16` as binary32). */
export declare function bf16ToF32(b: number): number;
/** A number to F16 bits: rounded to binary32 first, then to F16 (nearest, ties to even). */
export declare function f32ToF16(v: number): number;
/** A number to BF16 bits: rounded to binary32 first, then to BF16 (nearest, ties to even). */
export declare function f32ToBf16(v: number): number;
/** Decodes F16/BF16 bits into binary32 values, element by element. */
export declare function decode16(dtype: 'F16' | 'BF16', src: Uint16Array, dst: Float32Array): void;
/** Encodes binary32 values as F16/BF16 bits, rounding to nearest, ties to even. */
export declare function encode16(dtype: 'F16' | 'BF16', src: Float32Array, dst: Uint16Array): void;
