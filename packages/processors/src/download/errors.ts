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

/** Why a file name was refused; `UnsafePathError.reason`. */
export type UnsafePathReason = 'not-relative' | 'escapes' | 'names-folder' | 'symlink';

/**
 * A file name (from a request, a server or a registry) that does not name a file inside its folder:
 * empty, absolute, with a backslash or control character, escaping the folder (`../x`), naming a
 * folder, or reaching through a symbolic link in the folder that leads outside it. Nothing was written.
 */
export class UnsafePathError extends SluiceError {
  declare readonly code: 'E_UNSAFE_PATH';
  readonly reason: UnsafePathReason;
  readonly filename: string;
  readonly folder: string;
  constructor(reason: UnsafePathReason, filename: string, folder: string, why: string) {
    const hint =
      reason === 'symlink'
        ? 'remove or replace the link, or choose another folder'
        : 'the name came from the request or the server; name the file yourself (a path inside the folder)';
    super('E_UNSAFE_PATH', `refused filename ${JSON.stringify(filename)}: ${why} (hint: ${hint})`, { hint });
    this.name = 'UnsafePathError';
    this.reason = reason;
    this.filename = filename;
    this.folder = folder;
  }
}
