import { SluiceError } from '@sluice/streams';

/**
 * A file could not be downloaded or verified: a bad status, a checksum or size mismatch, a file
 * that is not what its name says, a refused filename, retries exhausted. Code `E_DOWNLOAD`; the
 * `download` processor reports it as `DownloadResult.error` (its message), `downloadFile` callers
 * and the sdk's `save()` get the error itself.
 */
export class DownloadError extends SluiceError {
  override name = 'DownloadError';
  declare readonly code: 'E_DOWNLOAD';
  /** The URL that was being downloaded, when known. */
  readonly url: string | undefined;
  /** The registry package the file belongs to (set by the sdk). */
  readonly packageId: string | undefined;
  constructor(message: string, options: { url?: string; packageId?: string; hint?: string; cause?: unknown } = {}) {
    super('E_DOWNLOAD', message, options);
    this.url = options.url;
    this.packageId = options.packageId;
  }
}
