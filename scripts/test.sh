#!/usr/bin/env bash
# Sets up everything the tests need (scripts/setup.sh) and runs the whole test suite.
# Every test starts the PostgreSQL servers it needs itself (loopback, temp dirs, free ports).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast "$@"
else
  cargo test --workspace --no-fail-fast "$@"
fi
