#!/usr/bin/env bash
# The README's first command (`npm run demo`, or `pnpm demo`): sets up what the demo needs if it is missing
# (pnpm, the locked dependencies), then runs examples/demo.ts.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh --demo
exec pnpm exec tsx examples/demo.ts "$@"
