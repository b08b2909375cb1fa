// The registry's wire shapes, one zod schema each: the client validates every
// response with them and the testing server builds its answers from the same
// types. Objects are loose: fields a newer server adds are kept, not refused.

import { z } from 'zod';

/** The three kinds of package the registry sells. */
export const PackageKindSchema = z.enum(['vector', 'memory', 'chain']);
export type PackageKind = z.infer<typeof PackageKindSchema>;

/** Fields every package has. */
const packageFields = {
  id: z.string(),
  name: z.string(),
  description: z.string(),
  tags: z.array(z.string()),
  /** 0 to 5. */
  rating: z.number(),
  /** In `currency` units (e.g. 4.99). */
  price: z.number(),
  currency: z.string(),
  /** The base model the package is made for, e.g. 'sluice-tiny-4l'. */
  model: z.string(),
  /** Name of the package's file once downloaded. */
  filename: z.string(),
  sizeBytes: z.number().int().nonnegative(),
  /** Lowercase hex sha256 of the file. */
  sha256: z.string(),
  createdAt: z.string(),
};

/** A weight delta (steering vector): a safetensors file of full tensors and/or LoRA pairs. */
export const VectorPackageSchema = z.looseObject({
  ...packageFields,
  kind: z.literal('vector'),
  /** 'full' (whole delta tensors), 'lora' (A/B pairs) or 'mixed'. */
  format: z.string(),
});
export type VectorPackage = z.infer<typeof VectorPackageSchema>;

/** A memory pack: documents for a model's context, with their size in tokens. */
export const MemoryPackageSchema = z.looseObject({
  ...packageFields,
  kind: z.literal('memory'),
  tokenCount: z.number().int().nonnegative(),
});
export type MemoryPackage = z.infer<typeof MemoryPackageSchema>;

/** A chain: a pipeline recipe (JSON). */
export const ChainPackageSchema = z.looseObject({
  ...packageFields,
  kind: z.literal('chain'),
  /** Number of steps in the recipe. */
  steps: z.number().int().nonnegative(),
});
export type ChainPackage = z.infer<typeof ChainPackageSchema>;

export const AnyPackageSchema = z.discriminatedUnion('kind', [
  VectorPackageSchema,
  MemoryPackageSchema,
  ChainPackageSchema,
]);
export type AnyPackage = z.infer<typeof AnyPackageSchema>;

/** One page of search results; `nextCursor` is null on the last page. */
export function pageSchema<T extends z.ZodType>(item: T) {
  return z.looseObject({ object: z.literal('list'), data: z.array(item), nextCursor: z.string().nullable() });
}

/** Where and what to download for a purchase. The URL needs no Authorization: the token in it is the credential. */
export const DownloadInfoSchema = z.looseObject({
  packageId: z.string(),
  /** Absolute URL of the file (GET/HEAD, Range, ETag, Repr-Digest). */
  url: z.string(),
  filename: z.string(),
  sizeBytes: z.number().int().nonnegative(),
  sha256: z.string(),
  expiresAt: z.string(),
});
export type DownloadInfo = z.infer<typeof DownloadInfoSchema>;

/** What a purchase returns; a replay of the same Idempotency-Key returns the same receipt. */
export const ReceiptSchema = z.looseObject({
  receiptId: z.string(),
  packageId: z.string(),
  downloadToken: z.string(),
  price: z.number(),
  currency: z.string(),
  createdAt: z.string(),
  download: DownloadInfoSchema,
});
export type Receipt = z.infer<typeof ReceiptSchema>;

/** The error body of every non-2xx answer. */
export const RegistryErrorBodySchema = z.object({
  error: z.object({ type: z.string(), code: z.string(), message: z.string() }),
});
export type RegistryErrorBody = z.infer<typeof RegistryErrorBodySchema>;
