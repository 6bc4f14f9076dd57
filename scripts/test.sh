#!/usr/bin/env bash
# The whole test suite: Swift unit/contract/golden tests, end-to-end tests with the official
# turbopuffer Python client (crash and concurrency tests included), and the benchmark smoke run.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test
export LAGOON_REQUIRE_MOTO=1  # the S3 contract tests run against moto_server; fail, never skip, without it

swift build --build-tests
swift test --skip-build 2>&1 | tee /tmp/lagoon-swift-test.log

# Benchmark smoke run (10,000 documents): fails loudly below the floors in benchmarks/floors.json.
swift build -c release --product lagoon
python3 benchmarks/run.py --quick --skip-build --lagoon-bin "$PWD/.build/release/lagoon"

# A small body limit so the oversized-body test sends a real oversized body.
export LAGOON_SERVER__MAX_BODY_BYTES=8388608 LAGOON_E2E_MAX_BODY_BYTES=8388608
LAGOON_BIN="$PWD/.build/debug/lagoon" python3 -m pytest -q tests/e2e --ignore=tests/e2e/test_multinode_s3.py

# The same suite with every server on the S3 backend (a moto bucket on loopback) and the release
# binary, plus the multi-node test (writer node, two query nodes, two workers, 20,000 documents).
# The two fuzzers run shorter here: they test request parsing, which the backend does not change
# (45 s: every fuzz write commits through moto, so a loaded machine needs that long for the
# fuzzer's 500-case minimum).
LAGOON_E2E_BACKEND=s3 LAGOON_FUZZ_SECONDS=45 LAGOON_SCHEMATHESIS_EXAMPLES=20 \
  LAGOON_BIN="$PWD/.build/release/lagoon" python3 -m pytest -q tests/e2e
