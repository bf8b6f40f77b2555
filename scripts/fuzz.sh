#!/usr/bin/env bash
# Fuzzes every parser of untrusted bytes (the cargo-fuzz targets in fuzz/) for a bounded time each and
# fails if any target finds a crash. Installs what it needs (a C++ compiler for libFuzzer, cargo-fuzz)
# when missing; reads no standard input. cargo-fuzz passes nightly-only -Z flags (sanitizer, coverage
# instrumentation), which RUSTC_BOOTSTRAP=1 lets the stable toolchain accept.
#
#   scripts/fuzz.sh                      every target, FUZZ_SECONDS (default 20) each
#   FUZZ_SECONDS=300 scripts/fuzz.sh ini_parse server_config
#
# New inputs the fuzzer finds go to fuzz/target/grown-corpus/<target> (kept between runs, never
# committed); the seeds in fuzz/corpus/<target> are only read. A crashing input is saved under
# fuzz/artifacts/<target>/ and the full log under fuzz/target/fuzz-logs/<target>.log.
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZ_SECONDS="${FUZZ_SECONDS:-20}"
export RUSTC_BOOTSTRAP=1
started=$SECONDS

scripts/setup.sh g++ </dev/null

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz"
  cargo install cargo-fuzz --locked </dev/null || cargo install cargo-fuzz </dev/null
fi

if [ -z "$(ls -A fuzz/corpus/keyfile_verify 2>/dev/null)" ]; then
  echo "fuzz: generating the seed corpus"
  cargo run --quiet --manifest-path fuzz/Cargo.toml --example make_corpus </dev/null
fi

if (($#)); then
  targets=("$@")
else
  mapfile -t targets < <(cargo fuzz list </dev/null)
fi

if ! cargo fuzz build </dev/null; then
  echo "fuzz: the fuzz targets do not build"
  echo "0 passed, ${#targets[@]} failed"
  exit 1
fi

logs=fuzz/target/fuzz-logs
mkdir -p "$logs"
passed=0
failed=0
for target in "${targets[@]}"; do
  grown="fuzz/target/grown-corpus/$target"
  log="$logs/$target.log"
  mkdir -p "$grown" "fuzz/corpus/$target"
  if cargo fuzz run "$target" "$grown" "fuzz/corpus/$target" -- \
    -max_total_time="$FUZZ_SECONDS" -timeout=10 </dev/null >"$log" 2>&1; then
    passed=$((passed + 1))
    runs=$(grep -oE 'Done [0-9]+ runs' "$log" | grep -oE '[0-9]+' || true)
    coverage=$(grep -oE 'cov: [0-9]+' "$log" | tail -n 1 | grep -oE '[0-9]+' || true)
    corpus=$(find "$grown" "fuzz/corpus/$target" -type f | wc -l)
    printf 'PASS %-15s %s runs in %ss, coverage %s, corpus %s\n' "$target" "${runs:-?}" "$FUZZ_SECONDS" \
      "${coverage:-?}" "$corpus"
  else
    failed=$((failed + 1))
    artifact=$(sed -n 's/.*Test unit written to //p' "$log" | tail -n 1)
    why=$(grep -A1 -m1 'panicked at' "$log" | tr '\n' ' ' || true)
    printf 'FAIL %-15s %s\n' "$target" "${why:-$(grep -m1 -E 'ERROR|error' "$log" || echo "see $log")}"
    if [ -n "$artifact" ] && [ -f "$artifact" ]; then
      echo "     input $artifact: $(head -c 256 "$artifact" | od -An -tx1 -v | tr -d ' \n')"
      echo "     reproduce: RUSTC_BOOTSTRAP=1 cargo fuzz run $target $artifact"
    fi
    echo "     log $log"
  fi
done

echo "fuzz: ${#targets[@]} target(s), ${FUZZ_SECONDS}s each, $((SECONDS - started))s in all"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
