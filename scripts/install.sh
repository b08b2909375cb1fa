#!/usr/bin/env bash
# The README's install command: pnpm, the workspace's dependencies (from the lockfile), Debian's
# Chromium for the browser tests (never a downloaded browser build), and Debian's redis-server for
# the tests, example and benchmark of @sluice/processors/redis (each starts its own server).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v pnpm >/dev/null 2>&1; then
  npm install -g pnpm@10.34.9
fi
pnpm install --frozen-lockfile
if [ ! -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ]; then
  echo "installing Debian's chromium for the browser tests"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
if ! command -v redis-server >/dev/null 2>&1; then
  echo "installing Debian's redis-server for the Redis tests"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server >/dev/null
fi
