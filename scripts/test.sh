#!/usr/bin/env bash
# The whole test suite, as CI runs it: formatting, lints, a bounded fuzzing run of every parser of
# untrusted bytes (FUZZ_SECONDS each, 10 by default), the C harness that loads the add-in as the 1C
# platform does (plainly and under valgrind), the add-in's release build for glibc 2.17 with the
# harness run on it, then every test of every crate (unit tests, and
# integration tests that start the real licenceserver binary on loopback ports). The last line is the
# total over the harness runs and every test binary: `N passed, N failed`.
set -euo pipefail
cd "$(dirname "$0")/.."
# The add-in takes a terminal session's client from the environment (SSH, X2Go, xrdp, RDP); the tests
# play sessions of their own, so the shell's own session must not leak into them.
unset SSH_CONNECTION SSH_CLIENT X2GO_SESSION XRDP_SESSION SESSIONNAME CLIENTNAME
scripts/setup.sh chromium chromium-driver
cargo fmt --all -- --check
cargo fmt --manifest-path fuzz/Cargo.toml -- --check
cargo clippy --workspace --all-targets -- -D warnings
FUZZ_SECONDS="${FUZZ_SECONDS:-10}" scripts/fuzz.sh

log="$(mktemp -t licence-tests.XXXXXX)"
trap 'rm -f "$log"' EXIT
status=0
test-harness/run.sh 2>&1 | tee "$log" || status=$?
scripts/build-addin.sh 2>&1 | tee -a "$log" || status=$?
cargo test --workspace --all-targets --no-fail-fast 2>&1 | tee -a "$log" || status=$?
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     /^[a-z][a-z0-9_ +-]*: +[0-9]+ passed, [0-9]+ failed$/ { p += $(NF-3); f += $(NF-1) }
     END { printf "%d passed, %d failed\n", p, f }' "$log"
exit "$status"
