#!/usr/bin/env bash
# The whole suite, as `npm test` runs it: typecheck, unit tests (Bun and
# Deno), the host binary, then integration and end-to-end tests against a
# real remote Docker host (a network namespace with dockerd and sshd).
#
# In CI (CI=true) the test bed is required: if it cannot be built, the run
# fails. Elsewhere, as non-root, those tests skip with a loud message.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/bootstrap.sh
BIN=node_modules/.bin
export PATH="$PWD/$BIN:$PATH"
results=$(mktemp)
trap 'rm -f "$results"' EXIT

step() { printf '\n== %s\n' "$*"; }

# bun prints " N pass" / " N fail" at the end of a run; add them up.
count() {
  local log=$1
  local p f
  p=$(grep -Eo '^ *[0-9]+ pass$' "$log" | tail -1 | grep -Eo '[0-9]+' || echo 0)
  f=$(grep -Eo '^ *[0-9]+ fail$' "$log" | tail -1 | grep -Eo '[0-9]+' || echo 0)
  echo "$p $f" >> "$results"
}

run_bun_tests() {
  local log
  log=$(mktemp)
  local rc=0
  bun test "$@" 2>&1 | tee "$log" || rc=$?
  count "$log"
  rm -f "$log"
  return $rc
}

step "typecheck (tsc --noEmit)"
tsc --noEmit -p .

step "unit tests (bun)"
run_bun_tests src/

step "pure core under Deno"
deno run -A src/main.ts --version
deno test -A --no-check --quiet src/address_test.ts src/text_safety_test.ts src/process/ src/forward/ src/log/ src/doctor/checks_test.ts src/doctor/render_test.ts src/doctor/sshd_settings_test.ts src/daemon/backoff_test.ts src/daemon/route_watch_test.ts src/daemon/reconnect_plan_test.ts src/connects_test.ts src/ssh/resolve_test.ts src/status/ src/ssh/target_test.ts src/ssh/argv_test.ts src/docker/ports_test.ts

step "host binary (bun build --compile)"
bun scripts/build-binaries.ts --host

step "integration and end-to-end tests (real sshd + dockerd in a network namespace)"
run_bun_tests --timeout 300000 test/

read -r total_pass total_fail < <(awk '{p+=$1; f+=$2} END {print p+0, f+0}' "$results")
echo
echo "tests: ${total_pass} passed, ${total_fail} failed"
[ "$total_fail" -eq 0 ]
