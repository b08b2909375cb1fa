// safetensors: a validating reader, a writer and model loading (one file, a sharded folder, or a
// folder with one file). The files here:
//   header.ts  the header: parsed and validated against the file size, encoded, laid out
//   dtypes.ts  the format's dtypes, their sizes, and tensor sizes from shapes (checked arithmetic)
//   file.ts    openSafetensors: positional reads of tensor bytes into the caller's buffers
//   write.ts   writeSafetensors: a whole file written atomically (partial, fsync, rename)
//   model.ts   openModel: a base model as one set of tensors, whatever its layout
//   floats.ts  decodeFloats / encodeFloats, on the F16/BF16 conversions of float16.js
//   errors.ts  WeightsError (the base `align` shares) and FormatError
export {
  DTYPE_BITS,
  dtypeBits,
  dtypeBytes,
  elementCount,
  type FloatDtype,
  isFloatDtype,
  tensorByteLength,
} from './dtypes.ts';
export { FormatError, type FormatReason, WeightsError, type WeightsErrorCode } from './errors.ts';
export {
  openSafetensors,
  readFully,
  readSafetensorsHeader,
  readSafetensorsHeaderFrom,
  type SafetensorsFile,
  writeFully,
} from './file.ts';
export { decodeFloats, encodeFloats } from './floats.ts';
export {
  encodeSafetensorsHeader,
  layoutTensors,
  MAX_HEADER_SIZE,
  parseSafetensorsHeader,
  readHeaderSize,
  type SafetensorsHeader,
  type TensorInfo,
} from './header.ts';
export { INDEX_FILE, type ModelIndex, type ModelTensor, openModel, SINGLE_FILE, type WeightsModel } from './model.ts';
export { partialPath, type TensorData, writeSafetensors } from './write.ts';
