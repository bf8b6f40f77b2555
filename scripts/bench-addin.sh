#!/usr/bin/env bash
# The add-in's benchmark, on demand: builds the release add-in, server and vendor tool, starts a
# server on a loopback port with a key of series 672B, and runs test-harness/bench, which loads the
# add-in as the 1C platform does and prints: load to first call, CheckLicence through the add-in next
# to the same check as a raw HTTP round trip, the time failover adds, and OpenObject of a 1 MB
# protected object (packed with licenceedit c, the series' public key pinned) next to a 16-byte one and
# to the datafile's local check alone. Prints figures; never fails on them. CHECKS sets the number of
# checks (default 2000), OPENS the number of opens (default 200).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release --quiet -p licenceaddin -p licenceserver -p licence-devkit
make -s -C test-harness bench
bin="$(pwd)/target/release"
work="$(mktemp -d -t licence-bench-addin.XXXXXX)"
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$work/root/3.0" "$work/root/data" "$work/vendor" "$work/home"
echo "bench-addin-machine" > "$work/root/machine-id"
printf '[Common]\nMachineIdFile=%s\n' "$work/root/machine-id" > "$work/root/3.0/licenceserver.conf"
"$bin/licenceedit" series create 672B --out "$work/vendor" >/dev/null
"$bin/licenceserver" --root "$work/root" identity > "$work/identity.json"
"$bin/licenceedit" key issue --cryptkey "$work/vendor/672B.cryptkey" --identity "$work/identity.json" \
  --key-no 1 --count 100 --period 30 --out "$work/root/data" >/dev/null
# Protected objects: a 1 MB random object and a 16-byte one, each in its own datafile.
mkdir -p "$work/objects"
head -c 1048576 /dev/urandom >"$work/objects/Big.bin"
head -c 16 /dev/urandom >"$work/objects/Tiny.bin"
(cd "$work/objects" &&
  "$bin/licenceedit" c big.datafile Big.bin -y --serie=672B --cryptkey="$work/vendor/672B.cryptkey" >/dev/null &&
  "$bin/licenceedit" c tiny.datafile Tiny.bin -y --serie=672B --cryptkey="$work/vendor/672B.cryptkey" >/dev/null)
"$bin/licenceserver" -r --root "$work/root" --listen 127.0.0.1 --port "$port" 2>/dev/null &
server_pid=$!
for _ in $(seq 1 100); do
  curl -sf -u admin:admin "http://127.0.0.1:$port/api" >/dev/null && break
  sleep 0.1
done
sync
# A scratch HOME: no user's licenceaddin.conf or logs are touched.
HOME="$work/home" BENCH_OBJECTS="$work/objects" LICENCE_SERIES_PUBLIC_KEY="$(tr -d '[:space:]' <"$work/vendor/672B.pub")" \
  test-harness/bench "$bin/liblicenceaddin.so" 127.0.0.1 "$port" "${CHECKS:-2000}" "${OPENS:-200}"
