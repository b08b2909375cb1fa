// @sluice/sdk: what applications touch. `createLLM` and `Session` for models,
// `Client` for the package registry, and the registry operations as
// processors. Transport errors are the processors' classes, re-exported so
// one import serves both.

export {
  type AlignmentChunk,
  APIConnectionError,
  APIError,
  APITimeoutError,
  AuthenticationError,
  BadRequestError,
  ConflictError,
  ContentPolicyError,
  DownloadError,
  type DownloadRequest,
  type DownloadResult,
  InternalServerError,
  NotFoundError,
  PermissionError,
  RateLimitError,
  SluiceError,
  UnexpectedResponseError,
  UnprocessableEntityError,
  UnsafePathError,
  WeightsError,
} from '@sluice/processors';
export { type BatchLoadParams, DEFAULT_BATCH_CONCURRENCY, type LoadResult } from './client/batch-load.ts';
export { type Chains, Client, type ClientOptions, type Memories } from './client/client.ts';
export { CLIENT_DEFAULTS } from './client/http.ts';
export type { Marketplace, PurchaseParams, RequestOptions } from './client/marketplace.ts';
export {
  DEFAULT_PURCHASE_CONCURRENCY,
  isPackageRef,
  PACKAGE_PART_TYPES,
  PackageRefPart,
  type PurchaseFailureMetadata,
  type PurchasePackagesOptions,
  type PurchaseStatusMetadata,
  purchasePackages,
  searchPackages,
} from './client/processors.ts';
export {
  type AnyPackage,
  AnyPackageSchema,
  type ChainPackage,
  ChainPackageSchema,
  type DownloadInfo,
  DownloadInfoSchema,
  type MemoryPackage,
  MemoryPackageSchema,
  type PackageKind,
  type Receipt,
  ReceiptSchema,
  type VectorPackage,
  VectorPackageSchema,
} from './client/schemas.ts';
export { type Page, type SearchOptions, type SearchParams, SearchResults } from './client/search.ts';
export type { PackageDownload, SavedFile, SaveOptions, Vectors } from './client/vectors.ts';
export { AlignmentStream, defaultAlignOutput, type StreamAlignParams, type WMatrix } from './client/wmatrix.ts';
export {
  ClosedError,
  ConfigError,
  MissingAPIKeyError,
  SDKError,
  type SDKErrorCode,
  SessionBusyError,
} from './errors.ts';
export {
  createImageModel,
  type FakeImageModelOptions,
  type GeminiImageModelOptions,
  type ImageGenerateOptions,
  type ImageModel,
  type ImageResult,
  type OpenAIImageModelOptions,
} from './images.ts';
export {
  type ChatMessage,
  chatMessagesToParts,
  createLLM,
  type FakeLLMOptions,
  type FlowOptions,
  type GenerateOptions,
  type GenerateResult,
  type LLM,
  type LLMSummarizeOptions,
  type LlamaCppLLMOptions,
  type ModelOptions,
  type Prompt,
  type RemoteLLMOptions,
  Session,
  type SessionJSON,
  SessionJSONSchema,
  type SessionOptions,
  type Usage,
} from './llm.ts';
export {
  alignProgress,
  batchLoadProgress,
  PROGRESS_DEFAULTS,
  type ProgressBar,
  type ProgressOptions,
  type ProgressOutput,
  type ProgressState,
  progressBar,
} from './progress.ts';
export {
  type Environment,
  PROVIDER_DEFAULTS,
  PROVIDERS,
  type Provider,
  type ProviderDefaults,
  type RemoteProvider,
} from './providers.ts';
export { type FetchHandler, type FetchServer, serveFetch } from './serve-fetch.ts';
export {
  activeTracing,
  type Call,
  type CallQuery,
  type Captured,
  type CapturedPart,
  type Feedback,
  initTracing,
  JSONL_STORE_DEFAULTS,
  type JsonlStoreOptions,
  jsonlStore,
  type OpOptions,
  type OtlpExporterOptions,
  op,
  otlpExporter,
  type StoredObject,
  startTraceViewer,
  TRACING_DEFAULTS,
  type TracedOptions,
  TraceError,
  type TraceErrorCode,
  type TraceExporter,
  TraceIndex,
  type TraceRecord,
  type TraceStats,
  type TraceStore,
  type TraceViewer,
  type TraceViewerOptions,
  type Tracing,
  type TracingOptions,
  traced,
} from './tracing/index.ts';
