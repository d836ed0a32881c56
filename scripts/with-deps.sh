#!/usr/bin/env bash
# Runs a command after making sure dependencies and a binary to run exist:
# RDHPF_TEST_BINARY is set to what scripts/pick_binary.ts picks (dist/'s
# when dist/SHA256SUMS vouches for it, else a host build in build/).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
RDHPF_TEST_BINARY=$(node_modules/.bin/bun scripts/pick_binary.ts)
export RDHPF_TEST_BINARY
PATH="$PWD/node_modules/.bin:$PATH" exec "$@"
