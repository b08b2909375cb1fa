import { defineConfig } from 'vitest/config';
import { projects } from './vitest.workspace.ts';

export default defineConfig({
  test: {
    // Each project carries its own test options (timeouts): see vitest.workspace.ts.
    projects,
    passWithNoTests: false,
  },
});
