// The wire shapes of `download`: what it takes and what it reports, declared once as zod schemas
// and typed JSON parts.

import { jsonPartType } from '@sluice/core';
import { z } from 'zod';

/** A file to download; `sha256` and `size`, when given, are checked before the file is kept. */
export const DownloadRequestSchema = z.object({
  url: z.string(),
  filename: z.string().optional(),
  sha256: z.string().optional(),
  size: z.number().int().nonnegative().optional(),
});
/** A file to download: `url`, and optionally the `filename` to save it as, its `sha256` and `size`. */
export type DownloadRequest = z.infer<typeof DownloadRequestSchema>;

/** What became of one request; `success: false` comes with `error` and nothing at `path`. */
export const DownloadResultSchema = z.object({
  url: z.string(),
  filename: z.string(),
  path: z.string(),
  sizeBytes: z.number(),
  sha256: z.string(),
  success: z.boolean(),
  error: z.string().optional(),
});
/** What became of one request: where the verified file is, or why there is none. */
export type DownloadResult = z.infer<typeof DownloadResultSchema>;

/** `application/json; type=DownloadRequest` parts (`download` also takes untyped JSON with a `url`). */
export const DownloadRequestPart = jsonPartType('DownloadRequest', DownloadRequestSchema);

/** `application/json; type=DownloadResult` parts, one per request `download` finished. */
export const DownloadResultPart = jsonPartType('DownloadResult', DownloadResultSchema);
