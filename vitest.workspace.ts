// The list of vitest projects: one per package, plus the examples.
// vitest 4 reads projects from `test.projects`; vitest.config.ts imports this list.

/**
 * Settings every project shares. Inline projects do not inherit the root config's test options in
 * vitest 4 (no `extends`), so they are spread into each project here.
 */
const shared = { testTimeout: 20_000, hookTimeout: 20_000 };

/** Tests that bound wall-clock behaviour (event-loop lateness, memory): run alone, after the rest. */
const timingSensitive = ['test/align.memory.test.ts', 'test/llama-cpp.event-loop.test.ts'];

export const projects = [
  { test: { ...shared, name: 'streams', root: 'packages/streams', include: ['test/**/*.test.ts'] } },
  { test: { ...shared, name: 'core', root: 'packages/core', include: ['test/**/*.test.ts'] } },
  {
    test: {
      ...shared,
      name: 'processors',
      root: 'packages/processors',
      include: ['test/**/*.test.ts'],
      exclude: timingSensitive,
    },
  },
  { test: { ...shared, name: 'sdk', root: 'packages/sdk', include: ['test/**/*.test.ts'] } },
  { test: { ...shared, name: 'examples', root: 'examples', include: ['test/**/*.test.ts'] } },
  {
    test: {
      ...shared,
      name: 'timing',
      root: 'packages/processors',
      include: timingSensitive,
      fileParallelism: false,
      sequence: { groupOrder: 1 },
    },
  },
];
