#!/usr/bin/env bash
# The fast gate for developers, to run before every commit: formatting, lints as errors, and every unit
# and integration test of the workspace (the integration tests start the real licenceserver and
# licencecentre on ports the system picks, so two checkouts can run this at the same time on one
# machine). What takes long or needs more of the machine stays in scripts/test.sh, which CI runs: the
# fuzzing runs, the C harness plainly and under valgrind, the add-in's builds for every target.
set -euo pipefail
cd "$(dirname "$0")/.."
# The add-in takes a terminal session's client from the environment (SSH, X2Go, xrdp, RDP); the tests
# play sessions of their own, so the shell's own session must not leak into them.
unset SSH_CONNECTION SSH_CLIENT X2GO_SESSION XRDP_SESSION SESSIONNAME CLIENTNAME
# The console's browser test drives a headless chromium; install it (once) as scripts/test.sh does.
scripts/setup.sh chromium chromium-driver
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo test --workspace
# The fuzz targets are a crate of their own that reaches into the server's modules: check they build.
cargo check --quiet --manifest-path fuzz/Cargo.toml --bins --examples
