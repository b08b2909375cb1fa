// The list of vitest projects: one per package, plus the examples.
// vitest 4 reads projects from `test.projects`; vitest.config.ts imports this list.
export const projects = [
  { test: { name: 'streams', root: 'packages/streams', include: ['test/**/*.test.ts'] } },
  { test: { name: 'core', root: 'packages/core', include: ['test/**/*.test.ts'] } },
  { test: { name: 'processors', root: 'packages/processors', include: ['test/**/*.test.ts'] } },
  { test: { name: 'sdk', root: 'packages/sdk', include: ['test/**/*.test.ts'] } },
  { test: { name: 'examples', root: 'examples', include: ['test/**/*.test.ts'] } },
];
