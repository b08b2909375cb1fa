// The WebAssembly SIMD kernel's committed bytes (align-simd-wasm.js, what align-simd.js loads in the main thread
// and in the align worker) are exactly what wabt makes of its source, align-simd.wat: edit the source, then run
// `pnpm run build:wasm`.
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { ALIGN_SIMD, compileWat, generatedModule } from '../../../scripts/build-wasm.ts';
import { kernelBytes } from '../src/align/align-simd.js';

describe('align SIMD kernel source', () => {
  it('compiles to the committed bytes', async () => {
    const compiled = await compileWat(ALIGN_SIMD.wat);
    expect(Buffer.from(kernelBytes()).toString('hex')).toBe(Buffer.from(compiled).toString('hex'));
  });

  it('is committed as the build script writes it', async () => {
    const compiled = await compileWat(ALIGN_SIMD.wat);
    expect(await readFile(ALIGN_SIMD.out, 'utf8')).toBe(generatedModule(ALIGN_SIMD, compiled));
  });

  it('exports the two kernels over an imported shared memory', () => {
    const module = new WebAssembly.Module(kernelBytes());
    expect(WebAssembly.Module.exports(module)).toEqual([
      { name: 'f32', kind: 'function' },
      { name: 'bf16', kind: 'function' },
    ]);
    expect(WebAssembly.Module.imports(module)).toEqual([{ module: 'm', name: 'memory', kind: 'memory' }]);
  });
});
