#!/usr/bin/env bash
# Installs what Lagoon needs on a Debian 12 machine: the C libraries (and, with --test,
# the Python packages the end-to-end tests and the benchmark smoke run use).
set -euo pipefail
cd "$(dirname "$0")/.."

apt_packages=(libxxhash-dev libsqlite3-dev libcurl4-openssl-dev libssl-dev zlib1g-dev pkg-config)
missing=()
for p in "${apt_packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! command -v swift >/dev/null 2>&1; then
  echo "Swift 6.x is required (https://www.swift.org/install/linux/); 'swift' is not on PATH" >&2
  exit 1
fi

if [ "${1:-}" = "--test" ]; then
  python3 -m pip install -q -r tests/e2e/requirements.txt
fi
