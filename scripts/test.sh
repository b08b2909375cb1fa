#!/usr/bin/env bash
# The README's second command (`npm test`, or `pnpm test`; `.ci/run` runs exactly `npm test`): sets up whatever
# is missing, then the typecheck (tests and examples, and packages/*/src under NodeNext + noUncheckedIndexedAccess),
# the lint and every vitest project. Ends with the summary line `tests: N passed, M failed`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
pnpm run typecheck
pnpm run lint
exec pnpm exec tsx scripts/test.ts "$@"
