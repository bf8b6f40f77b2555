#!/usr/bin/env bash
# The add-in's release build, in one command: builds liblicenceaddin.so against glibc 2.17 (the
# oldest Linux the administrator's guide lists: CentOS 6.7+/Debian 7.5+) with cargo-zigbuild, checks
# that it needs no newer glibc symbol and exports exactly the five Native API functions, runs the C
# harness's checks on it, and writes the zip bundle (MANIFEST.XML + library) for a common template.
# Installs what it needs when missing: the `ziglang` package from PyPI and cargo-zigbuild.
#   output: target/addin/licenceaddin.zip (and the library under target/addin/x86_64-unknown-linux-gnu/release/)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

if ! python3 -m ziglang version >/dev/null 2>&1; then
  echo "build-addin: installing zig (PyPI package ziglang)"
  python3 -m pip install --quiet --disable-pip-version-check ziglang </dev/null
fi
if ! command -v cargo-zigbuild >/dev/null 2>&1; then
  echo "build-addin: installing cargo-zigbuild"
  cargo install --quiet --locked cargo-zigbuild </dev/null || cargo install --quiet cargo-zigbuild </dev/null
fi

out=target/addin
cargo zigbuild --quiet --release --target x86_64-unknown-linux-gnu.2.17 -p licenceaddin --target-dir "$out"
library="$out/x86_64-unknown-linux-gnu/release/liblicenceaddin.so"

newest=$(objdump -T "$library" | grep -oE 'GLIBC_[0-9]+\.[0-9]+' | sort -t. -k2,2n -u | tail -n 1)
case "$newest" in
  GLIBC_2.1[0-7] | GLIBC_2.[0-9]) echo "build-addin: $library needs at most $newest" ;;
  *) echo "build-addin: $library needs $newest, newer than glibc 2.17" >&2; exit 1 ;;
esac
exports=$(nm -D --defined-only "$library" | awk '{print $3}' | sort | tr '\n' ' ')
if [ "$exports" != "DestroyObject GetAttachType GetClassNames GetClassObject SetPlatformCapabilities " ]; then
  echo "build-addin: unexpected exports: $exports" >&2
  exit 1
fi

make -s -C test-harness harness
status=0
result=$(test-harness/harness "$library" | tail -n 1) || status=$?
echo "release build: $result"
[ "$status" -eq 0 ] || exit "$status"

cargo run --quiet -p licence-bundle -- --target-dir "$out" --profile release --out "$out/licenceaddin.zip"
