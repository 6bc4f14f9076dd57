#!/usr/bin/env bash
# Builds Lagoon and runs the server on ./lagoon-data with the sample namespace loaded.
# Extra arguments go to `lagoon serve` (see `lagoon serve --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build -c release --product lagoon
exec .build/release/lagoon serve --sample "$@"
