// `download`: verified, resumable file downloads (see the processors README, "Downloads").
export { DownloadError, UnsafePathError, type UnsafePathReason } from './errors.ts';
export {
  type DownloadFileOptions,
  type DownloadProgress,
  downloadFile,
  type RetryEvent,
} from './file.ts';
export { filenameFromContentDisposition, filenameFromUrl, resolveInside, resolveInsideFolder } from './names.ts';
export {
  DEFAULT_DOWNLOAD_CONCURRENCY,
  type DownloadOptions,
  type DownloadProgressMetadata,
  download,
  isDownloadRequest,
} from './processor.ts';
export {
  type DownloadRequest,
  DownloadRequestPart,
  DownloadRequestSchema,
  type DownloadResult,
  DownloadResultPart,
  DownloadResultSchema,
} from './schemas.ts';

import { HTTP_DEFAULTS } from '../http/defaults.ts';
/** Default number of retries of a download (HTTP_DEFAULTS.maxRetries). */
export const DEFAULT_DOWNLOAD_RETRIES = HTTP_DEFAULTS.maxRetries;
/** Default stall timeout of a download (HTTP_DEFAULTS.stallTimeoutMs). */
export const DEFAULT_STALL_TIMEOUT_MS = HTTP_DEFAULTS.stallTimeoutMs;
