#!/usr/bin/env bash
# Builds the add-in, the licence server, the vendor tool and the C harness, then runs the harness
# three ways: against the add-in alone, under valgrind, and (stage 3) through the licence scenario
# against three REAL licence servers on 127.0.0.1 (primary and reserved, same key, short leases, and
# one announcing major version 4.0): the harness kills the primary and the add-in must move to the
# reserved one; the 4.0 server is refused with VersionMismatch and passed over for a reserved one. Stage 3 runs once plainly
# and once under valgrind, each with fresh servers (the kill makes a pair one-shot).
# Fails if any run fails. Usage: test-harness/run.sh [path/to/liblicenceaddin.so]
# The harness's own `N passed, N failed` line of each run is printed last.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
# Cargo's target folder: $CARGO_TARGET_DIR when set (as cargo itself does), else the workspace's.
target="${CARGO_TARGET_DIR:-$root/target}"
library="${1:-$target/debug/liblicenceaddin.so}"
bin="$target/debug"

(cd "$root" && cargo build -p licenceaddin -p licenceserver -p licence-devkit)
make -s -C "$here" harness

if ! command -v valgrind >/dev/null; then
    if [ "$(id -u)" -eq 0 ]; then
        apt-get install -y valgrind </dev/null >/dev/null ||
            { apt-get update </dev/null >/dev/null && apt-get install -y valgrind </dev/null >/dev/null; }
    else
        echo "valgrind is missing (apt-get install -y valgrind)" >&2
        exit 1
    fi
fi
# --fair-sched=yes: valgrind runs one thread at a time, and its default lock lets a busy main thread (the
# byte flips of objects.c) starve the add-in's heartbeat thread past the servers' 6 s session lease.
valgrind_cmd=(valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect
    --fair-sched=yes)
tally() { printf '%s\n' "$1" | grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -n 1 || true; }

echo "== harness: $library"
plain_status=0
plain_output="$("$here/harness" "$library")" || plain_status=$?
printf '%s\n' "$plain_output"

echo "== harness under valgrind"
valgrind_status=0
valgrind_output="$("${valgrind_cmd[@]}" "$here/harness" "$library" 2>&1)" || valgrind_status=$?
printf '%s\n' "$valgrind_output" | grep -v -E '^(ok - |[0-9]+ passed, [0-9]+ failed$)' || true

# ---- stage 3: the licence scenario against real servers ----------------------------------------
work="$(mktemp -d -t licence-harness.XXXXXX)"
server_pids=()
stop_servers() {
    local pid
    for pid in "${server_pids[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    server_pids=()
}
cleanup() {
    stop_servers
    rm -rf "$work"
}
trap cleanup EXIT

# N free loopback ports (bound to port 0, then released).
free_ports() {
    python3 -c 'import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
for s in socks: s.close()' "$1"
}

# The key: one series, one pinned machine id, one key file copied into every server's data folder.
cat /proc/sys/kernel/random/uuid >"$work/machine-id"
mkdir -p "$work/vendor" "$work/key" "$work/home"
"$bin/licenceedit" series create 672B --out "$work/vendor" >/dev/null
make_root() { # make_root DIR: a server root with the shared machine id, host secret and short leases
    mkdir -p "$1/3.0" "$1/data"
    printf '[Common]\nMachineIdFile=%s\nConnectionTimeout=4\nSessionTimeout=6\n' "$work/machine-id" \
        >"$1/3.0/licenceserver.conf"
    if [ -f "$work/identity-root/3.0/host.secret" ] && [ "$1" != "$work/identity-root" ]; then
        install -m 600 "$work/identity-root/3.0/host.secret" "$1/3.0/host.secret"
    fi
}
# The identity (ComputerID and TargetKey) of the machine id with the host secret this root creates;
# every server root gets the same host secret, so the one key file works on each of them.
make_root "$work/identity-root"
"$bin/licenceserver" --root "$work/identity-root" identity >"$work/id.json"
"$bin/licenceedit" key issue --cryptkey "$work/vendor/672B.cryptkey" --identity "$work/id.json" \
    --key-no 7121172 --count 5 --period 30 --flags 5 --product "Harness configuration" --out "$work/key" >/dev/null

# Protected objects (objects.c): datafiles packed by the vendor tool from files holding markers the
# relay's capture must never show. objects.datafile: a Cyrillic-named binary object, a Latin-named one
# and a BSL text; small.datafile: one small object, for the byte flips; a datafile of series 672C; one
# of a 672B series with another signing key. The pin is the 672B series' public key.
objects="$work/objects"
mkdir -p "$objects" "$work/vendor-other" "$work/vendor-impostor"
python3 - "$objects" <<'PY'
import os, sys
d = sys.argv[1]
marker = b"PROTECTED-PLAINTEXT-7f3a9c"
files = {
    "Отчёт по складу.epf": b"EPF\x00" + marker + bytes(range(256)) * 8,
    "Report.bin": os.urandom(200) + marker + os.urandom(200),
    "ОбщийМодуль.bsl": "Функция Сумма(А, Б) Экспорт\n    Возврат А + Б; // PROTECTED-BSL-51e2\nКонецФункции\n".encode(),
    "Отчёт.epf": marker,
}
for name, data in files.items():
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)
PY
"$bin/licenceedit" series create 672C --out "$work/vendor-other" >/dev/null
"$bin/licenceedit" series create 672B --out "$work/vendor-impostor" >/dev/null
pack() { # pack OUT CRYPTKEY SERIES FILE…
    local out="$1" cryptkey="$2" series="$3"
    shift 3
    (cd "$objects" && "$bin/licenceedit" c "$out" "$@" -y --serie="$series" --cryptkey="$cryptkey" >/dev/null)
}
pack objects.datafile "$work/vendor/672B.cryptkey" 672B "Отчёт по складу.epf" Report.bin ОбщийМодуль.bsl
pack small.datafile "$work/vendor/672B.cryptkey" 672B Отчёт.epf
pack other-series.datafile "$work/vendor-other/672C.cryptkey" 672C Report.bin
pack other-signer.datafile "$work/vendor-impostor/672B.cryptkey" 672B Report.bin
pin="$(tr -d '[:space:]' <"$work/vendor/672B.pub")"
listed="$("$bin/licenceedit" l "$objects/objects.datafile" --json |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["SeriesPublicKey"])')"
if [ "$listed" != "$pin" ]; then
    echo "licenceedit l --json shows public key $listed, 672B.pub holds $pin" >&2
    exit 1
fi
server_version="$("$bin/licenceserver" --version | awk '{print $2}')"

# start_server NAME PORT [ENV=VALUE…]: a fresh root with the key, the server in the background (with
# the given environment), bounded wait for GET /api.
start_server() {
    local dir="$work/run$run-$1" port="$2" pid
    shift 2
    make_root "$dir"
    cp "$work"/key/*.licence "$dir/data/"
    env "$@" "$bin/licenceserver" -r --root "$dir" --listen 127.0.0.1 --port "$port" 2>"$dir/stderr" &
    pid=$!
    server_pids+=("$pid")
    for _ in $(seq 1 100); do
        if curl -fsS -m 2 -u admin:admin "http://127.0.0.1:$port/api" >/dev/null 2>&1; then
            started_pid=$pid
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    echo "licence server $1 did not answer GET /api on 127.0.0.1:$port" >&2
    cat "$dir/stderr" >&2
    return 1
}

# start_helper NAME PORT SCRIPT ARG…: a Python helper of test-harness/ in the background, bounded wait
# until it prints "listening".
start_helper() {
    local dir="$work/run$run-$1" port="$2" script="$3" pid
    shift 3
    mkdir -p "$dir"
    python3 "$here/$script" "$port" "$@" >"$dir/stdout" 2>"$dir/stderr" &
    pid=$!
    server_pids+=("$pid")
    for _ in $(seq 1 100); do
        grep -q listening "$dir/stdout" 2>/dev/null && return 0
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    echo "$1 ($script) did not start on 127.0.0.1:$port" >&2
    cat "$dir/stderr" >&2
    return 1
}

# scenario_run LABEL WAIT_SECONDS [wrapper…]: fresh servers (in fresh roots, numbered by $run), the
# harness with the scenario variables, the servers stopped whatever happened.
scenario_run() {
    local label="$1" wait="$2" primary reserved other fake relay primary_pid status=0
    local capture="$work/run$run-capture"
    shift 2
    read -r primary reserved other fake relay <<<"$(free_ports 5)"
    start_server primary "$primary" || { stop_servers; return 1; }
    primary_pid=$started_pid
    start_server reserved "$reserved" || { stop_servers; return 1; }
    # The real server binary announcing another major version (its documented test switch).
    start_server other "$other" LICENCESERVER_TEST_VERSION=4.0.0.0 || { stop_servers; return 1; }
    # The protected objects go through a recording relay to the reserved server (the primary is
    # killed by then); a fake server grants everything, showing the genuine key file (as if stolen)
    # with a signature it cannot make.
    start_helper relay "$relay" relay.py "$reserved" "$capture" 300 || { stop_servers; return 1; }
    start_helper fake "$fake" fake_server.py "$server_version" 300 "$(ls "$work"/key/*.licence | head -n 1)" ||
        { stop_servers; return 1; }
    echo "== $label: primary 127.0.0.1:$primary (pid $primary_pid), reserved 127.0.0.1:$reserved," \
        "version 4.0 at 127.0.0.1:$other, relay 127.0.0.1:$relay, fake 127.0.0.1:$fake" >&2
    HOME="$work/home" LICENCE_SERVER="127.0.0.1:$primary" LICENCE_RESERVED="127.0.0.1:$reserved" \
        LICENCE_OTHER_SERVER="127.0.0.1:$other" \
        LICENCE_PRIMARY_PID="$primary_pid" LICENCE_COUNT=5 LICENCE_FLAGS=5 LICENCE_FAILOVER_SECONDS="$wait" \
        LICENCE_OBJECTS="$objects" LICENCE_SERIES_PUBLIC_KEY="$pin" LICENCE_OBJECT_RELAY="127.0.0.1:$relay" \
        LICENCE_OBJECT_CAPTURE="$capture" LICENCE_FAKE_SERVER="127.0.0.1:$fake" \
        timeout -k 10 300 "$@" "$here/harness" "$library" 2>&1 || status=$?
    stop_servers
    return "$status"
}

scenario_status=0
run=1
echo "== harness with the licence scenario (real servers, failover)"
scenario_output="$(scenario_run "scenario" 10)" || scenario_status=$?
printf '%s\n' "$scenario_output" | grep -E '(scenario|unreachable|other version|objects|relay|fake server|no pin)|^(FAIL|skip|#) ' || true

scenario_valgrind_status=0
run=2
echo "== harness with the licence scenario under valgrind (fresh servers)"
# Under valgrind each OpenObject of the debug build takes ~0.2 s: every 8th byte flip, not every one.
scenario_valgrind_output="$(scenario_run "scenario under valgrind" 30 env LICENCE_FLIP_STRIDE=8 "${valgrind_cmd[@]}")" ||
    scenario_valgrind_status=$?
printf '%s\n' "$scenario_valgrind_output" | grep -v -E '^(ok - |[0-9]+ passed, [0-9]+ failed$)' || true

status=0
report() { # report NAME STATUS
    if [ "$2" -ne 0 ]; then
        echo "$1 failed (exit $2)"
        status=1
    fi
}
report "harness" "$plain_status"
report "harness under valgrind" "$valgrind_status"
report "harness with the licence scenario" "$scenario_status"
report "harness with the licence scenario under valgrind" "$scenario_valgrind_status"
echo "plain:                $(tally "$plain_output")"
echo "valgrind:             $(tally "$valgrind_output")"
echo "scenario:             $(tally "$scenario_output")"
echo "scenario + valgrind:  $(tally "$scenario_valgrind_output")"
exit "$status"
