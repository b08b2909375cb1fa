// Where a downloaded file goes: names from the request, the server or the URL, each checked to
// stay inside the output folder.

import { isAbsolute, relative, resolve } from 'node:path';
import { DownloadError } from './errors.ts';

/**
 * The final path of `filename` inside `outputDir`; throws `DownloadError` when the name is empty,
 * absolute, has control characters or backslashes, names a folder, or would resolve outside
 * `outputDir` (`../x`, `a/../../x`). Every filename that comes from a request or a server goes
 * through here before anything is written.
 */
export function resolveInside(outputDir: string, filename: string): string {
  const root = resolve(outputDir);
  const refused = (why: string) =>
    new DownloadError(`refused filename ${JSON.stringify(filename)}: ${why}`, {
      hint: 'a file name from a request or a server must be a relative path inside the output folder',
    });
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (filename === '' || /[\u0000-\u001f\u007f\\]/.test(filename) || isAbsolute(filename)) {
    throw refused('not a plain relative file name (it is empty or absolute, or has a backslash or control character)');
  }
  const target = resolve(root, filename);
  const rel = relative(root, target);
  if (rel.startsWith('..') || isAbsolute(rel)) {
    throw refused(`it would escape the output folder ${outputDir}; name a file inside it (subfolders are fine)`);
  }
  if (rel === '' || filename.endsWith('/')) throw refused('not a plain relative file name (it names a folder)');
  return target;
}

/** The file name a `Content-Disposition` header gives (`filename*` preferred), or undefined. */
export function filenameFromContentDisposition(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const extended = /filename\*\s*=\s*([^;]+)/i.exec(header);
  if (extended?.[1]) {
    const value = extended[1].trim().replace(/^"(.*)"$/, '$1');
    const match = /^([\w!#$%&+^`{}~.-]+)'[^']*'(.*)$/.exec(value);
    if (match?.[2] !== undefined) {
      try {
        return decodeURIComponent(match[2]);
      } catch {
        // fall through to the plain parameter
      }
    }
  }
  const plain = /filename\s*=\s*("((?:[^"\\]|\\.)*)"|[^;]+)/i.exec(header);
  if (!plain) return undefined;
  return plain[2] !== undefined ? plain[2].replace(/\\(.)/g, '$1') : plain[1]?.trim();
}

/** The last path segment of a URL, decoded, or undefined when there is none. */
export function filenameFromUrl(url: URL): string | undefined {
  const last = url.pathname.split('/').at(-1);
  if (!last) return undefined;
  try {
    return decodeURIComponent(last);
  } catch {
    return last;
  }
}
