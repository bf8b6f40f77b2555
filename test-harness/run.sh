#!/usr/bin/env bash
# Builds the add-in and the C harness, runs the harness against the add-in, then again under
# valgrind; fails if either run fails. Usage: test-harness/run.sh [path/to/liblicenceaddin.so]
# The harness's own `N passed, N failed` line (of the valgrind run) is printed last.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
library="${1:-$root/target/debug/liblicenceaddin.so}"

(cd "$root" && cargo build -p licenceaddin)
make -s -C "$here" harness

echo "== harness: $library"
plain_status=0
plain_output="$("$here/harness" "$library")" || plain_status=$?
printf '%s\n' "$plain_output"

if ! command -v valgrind >/dev/null; then
    if [ "$(id -u)" -eq 0 ]; then
        apt-get install -y valgrind </dev/null >/dev/null ||
            { apt-get update </dev/null >/dev/null && apt-get install -y valgrind </dev/null >/dev/null; }
    else
        echo "valgrind is missing (apt-get install -y valgrind)" >&2
        exit 1
    fi
fi

echo "== harness under valgrind"
valgrind_status=0
valgrind_output="$(valgrind --quiet --error-exitcode=99 --leak-check=full \
    --errors-for-leak-kinds=definite,indirect "$here/harness" "$library" 2>&1)" || valgrind_status=$?
printf '%s\n' "$valgrind_output" | grep -v -E '^(ok - |[0-9]+ passed, [0-9]+ failed$)' || true

if [ "$plain_status" -ne 0 ]; then
    echo "harness failed (exit $plain_status)"
fi
if [ "$valgrind_status" -ne 0 ]; then
    echo "harness under valgrind failed (exit $valgrind_status)"
fi
printf '%s\n' "$valgrind_output" | grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -n 1 ||
    printf '%s\n' "$plain_output" | tail -n 1
[ "$plain_status" -eq 0 ] && [ "$valgrind_status" -eq 0 ]
