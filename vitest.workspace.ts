// The list of vitest projects: one per package, plus the examples.
// vitest 4 reads projects from `test.projects`; vitest.config.ts imports this list.

/** Tests that bound wall-clock behaviour (event-loop lateness, memory): run alone, after the rest. */
const timingSensitive = ['test/align.memory.test.ts'];

export const projects = [
  { test: { name: 'streams', root: 'packages/streams', include: ['test/**/*.test.ts'] } },
  { test: { name: 'core', root: 'packages/core', include: ['test/**/*.test.ts'] } },
  {
    test: { name: 'processors', root: 'packages/processors', include: ['test/**/*.test.ts'], exclude: timingSensitive },
  },
  { test: { name: 'sdk', root: 'packages/sdk', include: ['test/**/*.test.ts'] } },
  { test: { name: 'examples', root: 'examples', include: ['test/**/*.test.ts'] } },
  {
    test: {
      name: 'timing',
      root: 'packages/processors',
      include: timingSensitive,
      fileParallelism: false,
      sequence: { groupOrder: 1 },
    },
  },
];
