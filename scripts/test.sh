#!/usr/bin/env bash
# The whole test suite, as CI runs it: formatting, lints, a bounded fuzzing run of every parser of
# untrusted bytes (FUZZ_SECONDS each, 10 by default), then every test of every crate (unit tests, and
# integration tests that start the real licenceserver binary on loopback ports).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo fmt --all -- --check
cargo fmt --manifest-path fuzz/Cargo.toml -- --check
cargo clippy --workspace --all-targets -- -D warnings
FUZZ_SECONDS="${FUZZ_SECONDS:-10}" scripts/fuzz.sh
cargo test --workspace --all-targets --no-fail-fast
cargo test --workspace --doc
