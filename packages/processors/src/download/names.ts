// Where a downloaded file goes: names from the request, the server or the URL, each checked to
// stay inside the output folder.

import { lstat, realpath } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { UnsafePathError } from './errors.ts';

/**
 * The final path of `filename` inside `outputDir`, from the names alone (see `resolveInsideFolder` for the
 * disk check). Throws `UnsafePathError` (E_UNSAFE_PATH) when the name is empty, absolute, has control
 * characters or backslashes, names a folder, or would resolve outside `outputDir` (`../x`, `a/../../x`).
 * Every filename that comes from a request or a server goes through here before anything is written.
 */
export function resolveInside(outputDir: string, filename: string): string {
  const root = resolve(outputDir);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (filename === '' || /[\u0000-\u001f\u007f\\]/.test(filename) || isAbsolute(filename)) {
    throw new UnsafePathError(
      'not-relative',
      filename,
      outputDir,
      'not a plain relative file name (it is empty or absolute, or has a backslash or control character)',
    );
  }
  const target = resolve(root, filename);
  const rel = relative(root, target);
  if (rel.startsWith('..') || isAbsolute(rel)) {
    throw new UnsafePathError(
      'escapes',
      filename,
      outputDir,
      `it would escape the output folder ${outputDir}; name a file inside it (subfolders are fine)`,
    );
  }
  if (rel === '' || filename.endsWith('/')) {
    throw new UnsafePathError(
      'names-folder',
      filename,
      outputDir,
      'not a plain relative file name (it names a folder)',
    );
  }
  return target;
}

/**
 * `resolveInside`, then the disk: every part of the path that exists (subfolders, the file itself) is
 * looked at, and a symbolic link whose target is outside `outputDir` (or missing) is refused with
 * `UnsafePathError` (reason 'symlink'); links that stay inside are followed. `outputDir` itself may be
 * a link. This guards against links already in the folder, not against another process changing the
 * folder between this check and the write.
 */
export async function resolveInsideFolder(outputDir: string, filename: string): Promise<string> {
  const target = resolveInside(outputDir, filename);
  const root = resolve(outputDir);
  let realRoot: string;
  try {
    realRoot = await realpath(root);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return target;
    throw error;
  }
  const inside = (path: string) =>
    path === realRoot || path.startsWith(realRoot.endsWith(sep) ? realRoot : realRoot + sep);
  let path = root;
  for (const part of relative(root, target).split(sep)) {
    path = join(path, part);
    const info = await lstat(path).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return undefined;
      throw error;
    });
    if (!info) break;
    if (!info.isSymbolicLink()) continue;
    const real = await realpath(path).catch(() => undefined);
    if (real === undefined || !inside(real)) {
      throw new UnsafePathError(
        'symlink',
        filename,
        outputDir,
        `${path} is a symbolic link to ${real === undefined ? 'a missing target' : real}, outside the output folder ${outputDir}; links are not followed out of it`,
      );
    }
  }
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
