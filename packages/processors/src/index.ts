// Models, transport and errors (issue 3).

// Flow control and text (issue 3).
export {
  type CacheOptions,
  type CacheStore,
  cache,
  cacheKey,
  type MemoryStore,
  type MemoryStoreOptions,
  memoryStore,
} from './flow/cache.ts';
export { createRateLimiter, RateLimiter, type RateLimitOptions, rateLimit } from './flow/rate-limit.ts';
export { defaultShouldRetry, type RetryOptions, retry } from './flow/retry.ts';
export { ProcessorTimeoutError, type TimeoutLimit, type TimeoutOptions, timeout } from './flow/timeout.ts';
export {
  APIConnectionError,
  APIError,
  type APIErrorInit,
  APITimeoutError,
  AuthenticationError,
  BadRequestError,
  ConflictError,
  InternalServerError,
  NotFoundError,
  PermissionError,
  RateLimitError,
  type TimeoutName,
  UnprocessableEntityError,
} from './http/errors.ts';
export {
  isRetryableError,
  RETRY_DEFAULTS,
  type RetryPolicyOptions,
  retryDelayMs,
  sleep as abortableSleep,
} from './http/retry-policy.ts';
export { sharedAgent, TIMEOUT_DEFAULTS, type TransportOptions } from './http/transport.ts';
export { type AnthropicOptions, anthropic } from './models/anthropic.ts';
export { configOf, PROCESSOR_CONFIG } from './models/config.ts';
export type { FinishReason, Usage } from './models/events.ts';
export { type FakeModelOptions, fakeModel } from './models/fake.ts';
export { type GeminiOptions, gemini } from './models/gemini.ts';
export { type ToolSpec, UnsupportedPartError } from './models/messages.ts';
export { OLLAMA_DEFAULT_PORT, type OllamaOptions, ollama, ollamaHostURL } from './models/ollama.ts';
export { type OpenAIOptions, openai } from './models/openai.ts';
export type { ModelOptions } from './models/options.ts';
export { extractJSON, JSONOutputError, type JSONOutputOptions, jsonOutput } from './text/json-output.ts';
export { type SentencesOptions, sentences } from './text/sentences.ts';

// Weights: safetensors, download, align (issue 4).
export {
  type AlignmentChunk,
  AlignmentChunkSchema,
  type AlignOptions,
  type AlignPackageOptions,
  align,
  alignPackage,
  alignWorkerCount,
  DEFAULT_ALIGN_WORKERS,
  DEFAULT_BLOCK_BYTES,
  isAlignInput,
  layerIndexOf,
} from './weights/align.ts';
export {
  DEFAULT_DOWNLOAD_CONCURRENCY,
  DEFAULT_DOWNLOAD_RETRIES,
  DEFAULT_STALL_TIMEOUT_MS,
  type DownloadFileOptions,
  type DownloadOptions,
  type DownloadProgress,
  type DownloadProgressMetadata,
  type DownloadRequest,
  DownloadRequestSchema,
  type DownloadResult,
  DownloadResultSchema,
  download,
  downloadFile,
  filenameFromContentDisposition,
  isDownloadRequest,
  isRetryableStatus,
  type RetryEvent,
  resolveInside,
  resolveInsideFolder,
} from './weights/download.ts';
export {
  DeltaConflictError,
  DtypeError,
  FormatError,
  type FormatReason,
  NonFiniteError,
  ShapeError,
  UnmatchedError,
  UnsafePathError,
  type UnsafePathReason,
  WeightsError,
  type WeightsErrorCode,
} from './weights/errors.ts';
export { bf16ToF32, decode16, encode16, f16ToF32, f32ToBf16, f32ToF16 } from './weights/float16.js';
export {
  DTYPE_BITS,
  decodeFloats,
  dtypeBits,
  dtypeBytes,
  elementCount,
  encodeFloats,
  encodeSafetensorsHeader,
  type FloatDtype,
  INDEX_FILE,
  isFloatDtype,
  layoutTensors,
  MAX_HEADER_SIZE,
  type ModelIndex,
  type ModelTensor,
  openModel,
  openSafetensors,
  parseSafetensorsHeader,
  readHeaderSize,
  readSafetensorsHeader,
  type SafetensorsFile,
  type SafetensorsHeader,
  type TensorData,
  type TensorInfo,
  tensorByteLength,
  type WeightsModel,
  writeSafetensors,
} from './weights/safetensors.ts';
