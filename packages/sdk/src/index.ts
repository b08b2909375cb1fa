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
  type DownloadRequest,
  type DownloadResult,
  InternalServerError,
  NotFoundError,
  PermissionError,
  RateLimitError,
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
  DownloadError,
  MissingAPIKeyError,
  SDKError,
  type SDKErrorCode,
  SessionBusyError,
} from './errors.ts';
export {
  createLLM,
  type FakeLLMOptions,
  type GenerateOptions,
  type GenerateResult,
  type LLM,
  type ModelOptions,
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
export { type Environment, PROVIDER_DEFAULTS, PROVIDERS, type Provider, type ProviderDefaults } from './providers.ts';
