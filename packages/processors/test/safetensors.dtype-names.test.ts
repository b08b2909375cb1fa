// A dtype named like an Object.prototype member (toString, constructor, __proto__, valueOf,
// hasOwnProperty) is an unknown dtype like any other: a coded E_FORMAT error from the reader, from
// align and from download, never an uncoded SyntaxError out of the size arithmetic.
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { alignPackage } from '../src/align/index.ts';
import { downloadFile } from '../src/download/index.ts';
import { FormatError } from '../src/index.ts';
import {
  DTYPE_BITS,
  dtypeBytes,
  parseSafetensorsHeader,
  readSafetensorsHeader,
  tensorByteLength,
} from '../src/safetensors/index.ts';
import { collect, partialsIn, tempFolder, writeGolden } from './fixtures-weights/models.ts';
import { type FileServer, startFileServer } from './fixtures-weights/server.ts';

const NAMES = ['toString', 'constructor', '__proto__', 'valueOf', 'hasOwnProperty', 'isPrototypeOf'];

/** `u64 N | header | 4 data bytes` with one tensor of `dtype`, shape [1], offsets [0, 4]. */
function fileWithDtype(dtype: string, name = 'model.layers.0.mlp.down_proj.weight'): Uint8Array {
  const header = new TextEncoder().encode(
    JSON.stringify({ [name]: { dtype, shape: [1], data_offsets: [0, 4] } }).padEnd(64, ' '),
  );
  const out = new Uint8Array(8 + header.length + 4);
  new DataView(out.buffer).setBigUint64(0, BigInt(header.length), true);
  out.set(header, 8);
  return out;
}

let dir: string;
let remove: () => Promise<void>;
beforeEach(async () => {
  ({ dir, remove } = await tempFolder());
});
afterEach(() => remove());

describe('prototype member names as dtypes', () => {
  it('are not in the dtype table, and the size helpers refuse them with E_FORMAT', () => {
    for (const name of NAMES) {
      expect(DTYPE_BITS[name], name).toBeUndefined();
      expect(() => tensorByteLength(name, [1]), name).toThrow(FormatError);
      expect(() => dtypeBytes(name), name).toThrow(FormatError);
    }
  });

  it('are refused by the header parser as unknown-dtype', () => {
    for (const name of NAMES) {
      const bytes = fileWithDtype(name);
      const error = (() => {
        try {
          parseSafetensorsHeader(bytes.subarray(8, bytes.length - 4), bytes.length);
        } catch (e) {
          return e;
        }
      })();
      expect(error, name).toBeInstanceOf(FormatError);
      expect(error, name).toMatchObject({ code: 'E_FORMAT', reason: 'unknown-dtype' });
      expect((error as Error).message).toContain(JSON.stringify(name));
    }
  });

  it('are refused by the file reader and by align with E_FORMAT', async () => {
    const { base } = await writeGolden(dir);
    for (const name of NAMES) {
      const path = join(dir, `bad-${name}.safetensors`);
      await writeFile(path, fileWithDtype(name));
      await expect(readSafetensorsHeader(path), name).rejects.toMatchObject({
        code: 'E_FORMAT',
        reason: 'unknown-dtype',
      });
      const output = join(dir, `out-${name}.safetensors`);
      await expect(
        collect(alignPackage({ baseWeights: base, package: path, strength: 1, output })),
        name,
      ).rejects.toMatchObject({ code: 'E_FORMAT', reason: 'unknown-dtype' });
      expect(existsSync(output)).toBe(false);
    }
  });

  describe('through download', () => {
    let server: FileServer;
    beforeEach(async () => {
      server = await startFileServer();
    });
    afterEach(() => server.close());

    it('fails the file as not valid safetensors, naming the dtype, with nothing left behind', async () => {
      for (const name of NAMES) {
        server.files.set(`/${name}.safetensors`, { body: Buffer.from(fileWithDtype(name)) });
        const result = await downloadFile({ url: server.url(`/${name}.safetensors`) }, { outputDir: dir });
        expect(result.success, name).toBe(false);
        expect(result.error).toMatch(/not a valid safetensors file: .*unknown dtype/);
        expect(existsSync(join(dir, `${name}.safetensors`))).toBe(false);
      }
      expect(await partialsIn(dir)).toEqual([]);
    });
  });
});
