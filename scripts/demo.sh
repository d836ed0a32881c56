#!/usr/bin/env bash
# `npm run demo [-- --duration SECONDS]`: rdhpf against a throwaway remote
# Docker host on this machine (needs root: network namespace, dockerd, sshd).
# Runs the binary scripts/pick_binary.ts picks: dist/'s when
# dist/SHA256SUMS vouches for it, else a host build in build/; dist/ is
# never rebuilt here, and the demo checks at the end that its sums still hold.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
RDHPF_TEST_BINARY=$(node_modules/.bin/bun scripts/pick_binary.ts)
export RDHPF_TEST_BINARY
sums_held=no
if [ -f dist/SHA256SUMS ] && (cd dist && sha256sum -c --quiet SHA256SUMS >/dev/null 2>&1); then sums_held=yes; fi
rc=0
node_modules/.bin/bun scripts/demo.ts "$@" || rc=$?
if [ "$sums_held" = yes ] && ! (cd dist && sha256sum -c --quiet SHA256SUMS); then
  echo "demo: dist/SHA256SUMS no longer verifies: something rebuilt dist/ (run \`npm run build\` again)" >&2
  exit 1
fi
exit "$rc"
