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
library="${1:-$root/target/debug/liblicenceaddin.so}"
bin="$root/target/debug"

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
valgrind_cmd=(valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect)
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

# Three free loopback ports (bound to port 0, then released).
free_ports() {
    python3 -c 'import socket
socks = [socket.socket() for _ in range(3)]
for s in socks: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
for s in socks: s.close()'
}

# The key: one series, one pinned machine id, one key file copied into every server's data folder.
cat /proc/sys/kernel/random/uuid >"$work/machine-id"
mkdir -p "$work/vendor" "$work/key" "$work/home"
"$bin/licenceedit" series create 672B --out "$work/vendor" >/dev/null
make_root() { # make_root DIR: a server root with the shared machine id and short leases
    mkdir -p "$1/3.0" "$1/data"
    printf '[Common]\nMachineIdFile=%s\nConnectionTimeout=4\nSessionTimeout=6\n' "$work/machine-id" \
        >"$1/3.0/licenceserver.conf"
}
make_root "$work/identity-root"
"$bin/licenceserver" --root "$work/identity-root" identity >"$work/id.json"
"$bin/licenceedit" key issue --cryptkey "$work/vendor/672B.cryptkey" --identity "$work/id.json" \
    --key-no 7121172 --count 5 --period 30 --flags 5 --product "Harness configuration" --out "$work/key" >/dev/null

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

# scenario_run LABEL WAIT_SECONDS [wrapper…]: fresh servers (in fresh roots, numbered by $run), the
# harness with the scenario variables, the servers stopped whatever happened.
scenario_run() {
    local label="$1" wait="$2" primary reserved other primary_pid status=0
    shift 2
    read -r primary reserved other <<<"$(free_ports)"
    start_server primary "$primary" || { stop_servers; return 1; }
    primary_pid=$started_pid
    start_server reserved "$reserved" || { stop_servers; return 1; }
    # The real server binary announcing another major version (its documented test switch).
    start_server other "$other" LICENCESERVER_TEST_VERSION=4.0.0.0 || { stop_servers; return 1; }
    echo "== $label: primary 127.0.0.1:$primary (pid $primary_pid), reserved 127.0.0.1:$reserved," \
        "version 4.0 at 127.0.0.1:$other" >&2
    HOME="$work/home" LICENCE_SERVER="127.0.0.1:$primary" LICENCE_RESERVED="127.0.0.1:$reserved" \
        LICENCE_OTHER_SERVER="127.0.0.1:$other" \
        LICENCE_PRIMARY_PID="$primary_pid" LICENCE_COUNT=5 LICENCE_FLAGS=5 LICENCE_FAILOVER_SECONDS="$wait" \
        timeout -k 10 300 "$@" "$here/harness" "$library" 2>&1 || status=$?
    stop_servers
    return "$status"
}

scenario_status=0
run=1
echo "== harness with the licence scenario (real servers, failover)"
scenario_output="$(scenario_run "scenario" 10)" || scenario_status=$?
printf '%s\n' "$scenario_output" | grep -E '(scenario|unreachable|other version)|^(FAIL|skip|#) ' || true

scenario_valgrind_status=0
run=2
echo "== harness with the licence scenario under valgrind (fresh servers)"
scenario_valgrind_output="$(scenario_run "scenario under valgrind" 30 "${valgrind_cmd[@]}")" ||
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
