// The list of vitest projects: one per package, plus the examples.
// vitest 4 reads projects from `test.projects`; vitest.config.ts imports this list.

/**
 * The export condition that resolves `@sluice/*` to the TypeScript sources inside the workspace (each package's
 * `exports` lists it first); without it, imports resolve to the build in dist/, as they do for users.
 */
export const SOURCE_CONDITION = 'sluice-source';

/** `NODE_OPTIONS` with `--conditions=sluice-source` added once. */
export function withSourceCondition(options: string | undefined): string {
  const flag = `--conditions=${SOURCE_CONDITION}`;
  if (options?.split(/\s+/).includes(flag)) return options;
  return options ? `${options} ${flag}` : flag;
}

/**
 * Settings every project shares. Inline projects do not inherit the root config's test options in
 * vitest 4 (no `extends`), so they are spread into each project here.
 */
const shared = {
  testTimeout: 20_000,
  hookTimeout: 20_000,
  // Processes the tests start (`node --import tsx worker.ts`) resolve the workspace packages to their sources too.
  env: { NODE_OPTIONS: withSourceCondition(process.env.NODE_OPTIONS) },
};

/**
 * The source condition first, then what the tests resolved with before it: tests run as SSR (`ssr.resolve`); no
 * `module` there, which would load dependencies' untranspiled ESM builds under Node (@opentelemetry's have
 * extensionless imports).
 */
const resolve = {
  resolve: { conditions: [SOURCE_CONDITION, 'module', 'node', 'development|production'] },
  ssr: { resolve: { conditions: [SOURCE_CONDITION, 'node', 'development|production'] } },
};

/** Tests that bound wall-clock behaviour (event-loop lateness, memory): run alone, after the rest. */
const timingSensitive = ['test/align.memory.test.ts', 'test/llama-cpp.event-loop.test.ts'];

export const projects = [
  { ...resolve, test: { ...shared, name: 'streams', root: 'packages/streams', include: ['test/**/*.test.ts'] } },
  { ...resolve, test: { ...shared, name: 'core', root: 'packages/core', include: ['test/**/*.test.ts'] } },
  {
    ...resolve,
    test: {
      ...shared,
      name: 'processors',
      root: 'packages/processors',
      include: ['test/**/*.test.ts'],
      exclude: timingSensitive,
    },
  },
  { ...resolve, test: { ...shared, name: 'sdk', root: 'packages/sdk', include: ['test/**/*.test.ts'] } },
  { ...resolve, test: { ...shared, name: 'examples', root: 'examples', include: ['test/**/*.test.ts'] } },
  {
    ...resolve,
    test: {
      ...shared,
      // Builds, packs and installs the packages into a temp project (see packaging/test/install.test.ts).
      name: 'packaging',
      root: 'packaging',
      include: ['test/**/*.test.ts'],
      testTimeout: 60_000,
      hookTimeout: 150_000,
    },
  },
  {
    ...resolve,
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
