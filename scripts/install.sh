#!/usr/bin/env bash
# Sets up whatever is missing, then returns; quick when everything is there already. Run first by
# scripts/demo.sh and scripts/test.sh (the README's two commands), and on its own by anyone who wants only this.
#   - pnpm (installed with npm when missing) and the workspace's locked dependencies;
#   - unless --demo: Debian's Chromium for the browser tests (never a downloaded browser build) and Debian's
#     redis-server for the tests, example and benchmark of @sluice/processors/redis (each starts its own server).
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-all}"
if ! command -v pnpm >/dev/null 2>&1; then
  echo "installing pnpm with npm"
  npm install -g pnpm@10.34.9 --no-audit --no-fund --loglevel=error
fi
# Settings npm passes to the scripts it runs (npm test, npm run demo) are not meant for pnpm.
while IFS='=' read -r name _; do
  case "$name" in npm_config_*) unset "$name" ;; esac
done < <(env)
pnpm install --frozen-lockfile --reporter=silent
[ "$mode" = "--demo" ] && exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
if [ ! -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ]; then
  echo "installing Debian's chromium for the browser tests"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
if ! command -v redis-server >/dev/null 2>&1; then
  echo "installing Debian's redis-server for the Redis tests"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server >/dev/null
fi
