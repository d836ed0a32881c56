#!/usr/bin/env bash
# `npm run demo [-- --duration SECONDS]`: rdhpf against a throwaway remote
# Docker host on this machine (needs root: network namespace, dockerd, sshd).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
node_modules/.bin/bun scripts/build-binaries.ts --host
exec node_modules/.bin/bun scripts/demo.ts "$@"
