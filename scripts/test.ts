// Runs every vitest project once and ends with the plain summary line CI reads:
// `tests: N passed, M failed`, taken from vitest's JSON report so a run that
// executed no test is visible.
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';

const report = '.vitest-report.json';
rmSync(report, { force: true });
const args = [
  'vitest',
  'run',
  '--reporter=default',
  '--reporter=json',
  `--outputFile.json=${report}`,
  ...process.argv.slice(2),
];
const run = spawnSync('pnpm', ['exec', ...args], { stdio: 'inherit' });

let passed = 0;
let failed = 0;
try {
  const json = JSON.parse(readFileSync(report, 'utf8')) as {
    numPassedTests: number;
    numFailedTests: number;
    numTotalTests: number;
  };
  passed = json.numPassedTests;
  failed = json.numFailedTests + (json.numTotalTests - json.numPassedTests - json.numFailedTests);
} catch (error) {
  console.error(`could not read the vitest report ${report}:`, error);
  failed = Math.max(failed, 1);
}
console.log(`tests: ${passed} passed, ${failed} failed`);
process.exit(run.status === 0 && failed === 0 && passed > 0 ? 0 : 1);
