// A multipart/form-data body (RFC 7578) of text fields and files, as bytes.

import { randomUUID } from 'node:crypto';

/** One file of a multipart body. */
export interface MultipartFile {
  name: string;
  filename: string;
  mimetype: string;
  data: Uint8Array;
}

/** The body and its content type (with the boundary) for `fields` then `files`, in order. Pure but for the boundary. */
export function multipartBody(
  fields: readonly [string, string][],
  files: readonly MultipartFile[],
): { body: Uint8Array; contentType: string } {
  const boundary = `sluice-${randomUUID()}`;
  const quote = (value: string) => value.replace(/["\r\n\\]/g, (c) => encodeURIComponent(c));
  const pieces: Buffer[] = [];
  for (const [name, value] of fields) {
    pieces.push(
      Buffer.from(`--${boundary}\r\ncontent-disposition: form-data; name="${quote(name)}"\r\n\r\n${value}\r\n`),
    );
  }
  for (const file of files) {
    pieces.push(
      Buffer.from(
        `--${boundary}\r\ncontent-disposition: form-data; name="${quote(file.name)}"; filename="${quote(file.filename)}"\r\ncontent-type: ${file.mimetype}\r\n\r\n`,
      ),
      Buffer.from(file.data),
      Buffer.from('\r\n'),
    );
  }
  pieces.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(pieces), contentType: `multipart/form-data; boundary=${boundary}` };
}
