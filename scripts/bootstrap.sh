#!/usr/bin/env bash
# Makes this checkout ready to run: npm dependencies, and the Debian packages
# the tests need (the test bed's real dockerd and sshd in a network
# namespace, zsh and fish for the shell completion tests, and promtool for
# the alert rule tests, docker-compose as a client of rdhpf's Docker socket).
#
# Idempotent and quick (well under a second) when everything is present.
# As root it installs what is missing (one `apt-get update`, then install);
# as non-root it only reports what is missing and exits 0 — the tests decide
# whether a missing test bed is a skip (local) or a failure (CI=true).
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(docker.io openssh-server openssh-client busybox-static iproute2 iptables curl util-linux tar)
# The completion tests run the generated scripts in real zsh and fish (and fail without them when CI=true).
PACKAGES+=(zsh fish)
# The monitoring tests check and unit-test the alert rules with promtool (its service is never started).
PACKAGES+=(prometheus)
# docker-compose (a Python client nobody here wrote) is driven through rdhpf's Docker socket.
# strace records every connect() it makes: the proof that it dials only that socket.
PACKAGES+=(docker-compose strace)
# Debian kernels enable AppArmor; dockerd then needs apparmor_parser to load its default profile.
if [ "$(cat /sys/module/apparmor/parameters/enabled 2>/dev/null || true)" = "Y" ]; then
  PACKAGES+=(apparmor)
fi

if [ ! -d node_modules ]; then
  echo "bootstrap: node_modules missing, running npm ci"
  npm ci --no-audit --no-fund
fi

if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "bootstrap: not a Debian system (no dpkg-query); the test bed needs: ${PACKAGES[*]}"
  exit 0
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
  [ "$status" = "installed" ] || missing+=("$pkg")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "bootstrap: node_modules present; test packages present (${PACKAGES[*]})"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "bootstrap: test bed packages missing: ${missing[*]}"
  echo "bootstrap: install them with: sudo bash scripts/bootstrap.sh   (integration tests skip without them, and fail with CI=true)"
  exit 0
fi

echo "bootstrap: installing test bed packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=300 update -qq
apt-get -o DPkg::Lock::Timeout=300 install -y -qq "${missing[@]}"
echo "bootstrap: installed: ${missing[*]}"
