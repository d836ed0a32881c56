#!/usr/bin/env bash
# The whole suite, as `npm test` runs it: typecheck, unit tests (Bun and
# Deno), a fresh-machine check of the test bed, then integration and
# end-to-end tests against a real remote Docker host (a network namespace
# with dockerd and sshd), run on the binary chosen by
# scripts/pick_binary.ts (dist/'s when dist/SHA256SUMS vouches for it).
#
# Every runner gets a row in the summary; the last line is
#   tests: N passed, N failed, N skipped
# (scripts/test_summary.ts). In CI (CI=true) the test bed is required: if it
# cannot be built, the run fails. Elsewhere, as non-root, those tests skip
# with a loud message.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/bootstrap.sh
BIN=node_modules/.bin
export PATH="$PWD/$BIN:$PATH"
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
results="$logs/results.tsv"
: > "$results"

step() { printf '\n== %s\n' "$*"; }

# runner NAME KIND COMMAND...: runs COMMAND, shows its output, and records
# its log and exit code for the summary (KIND: bun, deno or check). A failing
# runner does not stop the suite; the summary counts it.
runner() {
  local name=$1 kind=$2 rc=0
  shift 2
  local log
  log="$logs/$(wc -l < "$results").log"
  "$@" 2>&1 | tee "$log" || rc=$?
  printf '%s\t%s\t%s\t%s\n' "$name" "$kind" "$rc" "$log" >> "$results"
}

# The shipped binaries: if dist/SHA256SUMS verifies now, it must still verify at the end.
dist_sums_verified=no
if [ -f dist/SHA256SUMS ] && (cd dist && sha256sum -c --quiet SHA256SUMS >/dev/null 2>&1); then
  dist_sums_verified=yes
fi

step "typecheck (tsc --noEmit)"
runner "typecheck (tsc)" check tsc --noEmit -p .

step "unit tests (bun)"
runner "unit tests (bun)" bun bun test src/ scripts/

step "pure core under Deno"
runner "rdhpf --version (deno)" check deno run -A src/main.ts --version
runner "pure core (deno)" deno deno test -A --no-check --quiet src/address_test.ts src/port_test.ts src/sleep_test.ts src/atomic_file_test.ts src/shell_words_test.ts src/listens_test.ts src/layering_test.ts src/text_safety_test.ts src/process/ src/forward/ src/log/ src/doctor/checks_test.ts src/doctor/render_test.ts src/doctor/sshd_settings_test.ts src/daemon/backoff_test.ts src/daemon/route_watch_test.ts src/daemon/reconnect_plan_test.ts src/daemon/monotonic_clock_test.ts src/daemon/observed_store_test.ts src/connects_test.ts src/ssh/resolve_test.ts src/status/ src/ssh/target_test.ts src/ssh/argv_test.ts src/ssh/mux_protocol_test.ts src/ssh/mux_probe_test.ts src/ssh/mux_client_test.ts src/ssh/mux_test.ts src/docker/ports_test.ts src/docker/endpoint_test.ts src/docker/endpoint_choice_test.ts src/docker/engine_errors_test.ts

step "fresh machine: a test bed without /run/sshd"
runner "fresh machine (test bed)" check bun scripts/fresh_machine_check.ts

step "binary under test"
binary=""
if binary=$(bun scripts/pick_binary.ts); then
  export RDHPF_TEST_BINARY="$binary"
  printf '%s\t%s\t%s\t%s\n' "binary under test" check 0 "" >> "$results"
else
  echo "no binary to test: the end-to-end tests will fail"
  printf '%s\t%s\t%s\t%s\n' "binary under test" check 1 "" >> "$results"
fi

step "integration and end-to-end tests (real sshd + dockerd in a network namespace)"
runner "integration + e2e (bun)" bun bun test --timeout 300000 test/

if [ "$dist_sums_verified" = yes ]; then
  step "dist/SHA256SUMS still verifies (nothing above may rebuild dist/)"
  runner "dist/SHA256SUMS intact" check bash -c 'cd dist && sha256sum -c SHA256SUMS'
fi

step "summary"
bun scripts/test_summary.ts "$results"
