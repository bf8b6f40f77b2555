#!/usr/bin/env bash
# The whole test suite, as CI runs it: formatting, lints, then every test of every crate (unit tests,
# and integration tests that start the real licenceserver binary on loopback ports).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo test --workspace --all-targets --no-fail-fast
cargo test --workspace --doc
