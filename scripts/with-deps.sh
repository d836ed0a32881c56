#!/usr/bin/env bash
# Runs a command after making sure dependencies and the host binary exist.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
[ -x "dist/rdhpf-$(node -p 'process.platform + "-" + process.arch')" ] || node_modules/.bin/bun scripts/build-binaries.ts --host
PATH="$PWD/node_modules/.bin:$PATH" exec "$@"
