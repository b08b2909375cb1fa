export { type ErrorJSON, errorFromJSON, errorToJSON, type RevivedError, SluiceError } from '@sluice/streams';
export { DeltaConflictError, DtypeError, NonFiniteError, ShapeError, UnmatchedError } from './align/errors.ts';
export {
  type AlignmentChunk,
  AlignmentChunkPart,
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
} from './align/index.ts';
export {
  DEFAULT_DOWNLOAD_CONCURRENCY,
  DEFAULT_DOWNLOAD_RETRIES,
  DEFAULT_STALL_TIMEOUT_MS,
  DownloadError,
  type DownloadFileOptions,
  type DownloadOptions,
  type DownloadProgress,
  type DownloadProgressMetadata,
  type DownloadRequest,
  DownloadRequestPart,
  DownloadRequestSchema,
  type DownloadResult,
  DownloadResultPart,
  DownloadResultSchema,
  download,
  downloadFile,
  filenameFromContentDisposition,
  filenameFromUrl,
  isDownloadRequest,
  type RetryEvent,
  resolveInside,
  resolveInsideFolder,
  UnsafePathError,
  type UnsafePathReason,
} from './download/index.ts';
export {
  type CacheOptions,
  type CacheStore,
  cache,
  cacheKey,
  type MemoryStore,
  type MemoryStoreOptions,
  memoryStore,
} from './flow/cache.ts';
export {
  createRateLimiter,
  memoryRateLimitStore,
  RateLimiter,
  type RateLimitOptions,
  type RateLimitStore,
  rateLimit,
} from './flow/rate-limit.ts';
export { defaultShouldRetry, type RetryOptions, retry } from './flow/retry.ts';
export { ProcessorTimeoutError, type TimeoutLimit, type TimeoutOptions, timeout } from './flow/timeout.ts';
export { HTTP_DEFAULTS } from './http/defaults.ts';
export {
  APIConnectionError,
  APIError,
  type APIErrorCode,
  type APIErrorInit,
  APITimeoutError,
  AuthenticationError,
  BadRequestError,
  ConflictError,
  ContentPolicyError,
  InternalServerError,
  NotFoundError,
  PermissionError,
  RateLimitError,
  type TimeoutName,
  UnexpectedResponseError,
  UnprocessableEntityError,
} from './http/errors.ts';
export { type JSONRequest, type JSONRequestOptions, requestJSON } from './http/json.ts';
export {
  type ResumableEvent,
  type ResumableOptions,
  type ResumableRetry,
  RetriesExhaustedError,
  readResumable,
} from './http/range.ts';
export {
  isRetryableError,
  isRetryableStatus,
  RETRY_DEFAULTS,
  type RetryPolicyOptions,
  retryDelayMs,
  sleep as abortableSleep,
} from './http/retry-policy.ts';
export { type Dispatcher, sharedAgent, TIMEOUT_DEFAULTS, type TransportOptions } from './http/transport.ts';
export { type AnthropicOptions, anthropic } from './models/anthropic.ts';
export { configOf, PROCESSOR_CONFIG } from './models/config.ts';
export type { FinishReason, Usage } from './models/events.ts';
export { type FakeModelOptions, fakeModel } from './models/fake.ts';
export { type GeminiOptions, gemini } from './models/gemini.ts';
export { type OpenAIImagesOptions, openaiImages } from './models/images/openai-images.ts';
export { imageMimetypeOf } from './models/images/signature.ts';
export { type LlamaCppOptions, type LlamaCppProcessor, llamaCpp } from './models/llama-cpp.ts';
export { LocalModelError, MissingPackageError } from './models/llama-cpp-errors.ts';
export { isReplayPart, type ToolSpec, UnsupportedOptionError, UnsupportedPartError } from './models/messages.ts';
export { SERVER_TOOL_SUBSTREAM } from './models/model.ts';
export { OLLAMA_DEFAULT_PORT, type OllamaOptions, ollama, ollamaHostURL } from './models/ollama.ts';
export { type OpenAIOptions, openai } from './models/openai.ts';
export { type OpenAIResponsesOptions, openaiResponses } from './models/openai-responses.ts';
export type { ModelOptions } from './models/options.ts';
export { bf16ToF32, decode16, encode16, f16ToF32, f32ToBf16, f32ToF16 } from './safetensors/float16.js';
export {
  DTYPE_BITS,
  decodeFloats,
  dtypeBits,
  dtypeBytes,
  elementCount,
  encodeFloats,
  encodeSafetensorsHeader,
  type FloatDtype,
  FormatError,
  type FormatReason,
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
  WeightsError,
  type WeightsErrorCode,
  type WeightsModel,
  writeSafetensors,
} from './safetensors/index.ts';
export { extractJSON, JSONOutputError, type JSONOutputOptions, jsonOutput } from './text/json-output.ts';
export { type SentencesOptions, sentences } from './text/sentences.ts';
export {
  chunkDocument,
  DocumentError,
  documentText,
  isDocumentPart,
  type SummarizeOptions,
  type SummaryLength,
  type SummaryStyle,
  summarize,
} from './text/summarize.ts';
