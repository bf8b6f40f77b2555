#!/usr/bin/env bash
# The demo: builds the server, the vendor tool and the add-in, creates a key series and a demo key
# for this computer, starts a real licence server in a scratch folder on a loopback port, shows the
# REST API answering, then loads liblicenceaddin.so exactly as 1C loads it (test-harness/demo, a small
# C platform) and drives it as a configuration's BSL does: connect, obtain a licence — shown in the
# server's /api/sessions while held — and release it; finally stops the server.
# If the add-in lacks the licence methods, the licence is played with curl instead (said clearly).
# Nothing outside the scratch folder is touched. DEMO_PORT picks the port (default 9099).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh jq

port="${DEMO_PORT:-9099}"
cargo build --quiet -p licenceserver -p licence-devkit -p licenceaddin
make -s -C test-harness demo
bin="$(pwd)/target/debug"
work="$(mktemp -d -t licence-demo.XXXXXX)"
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
api() { curl -sS -u admin:admin "http://127.0.0.1:$port$1"; }
call() { curl -sS -X POST -H 'Content-Type: application/json' -d "$2" "http://127.0.0.1:$port$1"; }

mkdir -p "$work/root/3.0" "$work/root/data" "$work/vendor" "$work/home"
if [ ! -s /etc/machine-id ] && [ ! -s /var/lib/dbus/machine-id ]; then
  # A container without a machine id: pin one, as the example config explains.
  cat /proc/sys/kernel/random/uuid > "$work/root/machine-id"
  printf '[Common]\nMachineIdFile=%s\n' "$work/root/machine-id" > "$work/root/3.0/licenceserver.conf"
fi

step "The vendor creates series 672B (signing key and series secret)"
"$bin/licenceedit" series create 672B --out "$work/vendor"

step "The server tells which computer it runs on"
"$bin/licenceserver" --root "$work/root" identity | tee "$work/identity.json" | jq '{ComputerID}'

step "The vendor issues a demo key with 5 licences for 30 days, bound to that computer"
"$bin/licenceedit" key issue --cryptkey "$work/vendor/672B.cryptkey" --identity "$work/identity.json" \
  --key-no 7121172 --type demo --count 5 --period 30 --product "Демонстрационная конфигурация" \
  --product-version 1.0 --out "$work/root/data"

step "Start the licence server on 127.0.0.1:$port"
"$bin/licenceserver" -r --root "$work/root" --listen 127.0.0.1 --port "$port" 2>"$work/server.stderr" &
server_pid=$!
for _ in $(seq 1 100); do
  api /api >/dev/null 2>&1 && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.stderr"; exit 1; }
  sleep 0.1
done

step "GET /api"
api /api | jq .
step "GET /api/serverinfo"
api /api/serverinfo | jq .
step "GET /api/licences"
api /api/licences | jq '.Licences[] | {FileName, KeyNo, KeyID, KeyType, LicenceCount, Workable, Enabled, DaysLeft, ProductName}'

show_sessions() {
  api /api/sessions | jq '.Sessions[] | {ID, SessionNumber, UserName, KeyID, UsedLicence, ExpireTime}'
}

step "The 1C platform loads the add-in (dlopen, GetClassObject, Init…) and the configuration obtains a licence"
addin_status=0
# test-harness/demo runs the command after the library path, host and port while the licence is held.
export port
export -f step api show_sessions
HOME="$work/home" test-harness/demo "$bin/liblicenceaddin.so" 127.0.0.1 "$port" \
  bash -c 'step "GET /api/sessions shows it (the add-in holds the licence)"; show_sessions' ||
  addin_status=$?
if [ "$addin_status" -eq 0 ]; then
  step "After ОсвободитьЛицензию the server holds no session"
  api /api/sessions | jq -c '{Sessions: (.Sessions | length)}'
elif [ "$addin_status" -ne 3 ]; then
  echo "the add-in could not obtain a licence (exit $addin_status)"; exit 1
else
  step "FALLBACK: this add-in build has no licence methods yet, so curl plays its protocol instead"
  connection=$(call /licence/connect "{\"OSVersion\":\"$(uname -sr)\",\"ComputerName\":\"$(hostname)\",\"LocalIP\":\"127.0.0.1\",\"Process\":\"1cv8c\",\"CPU\":\"x86_64\",\"PID\":$$,\"IsServer\":false,\"PlatformVersion\":\"8.3.25.1257\",\"ModuleName\":\"liblicenceaddin.so\",\"Version\":\"$("$bin/licenceserver" --version | cut -d' ' -f2)\",\"KeyID\":\"672B\"}" | jq -r .ConnectionID)
  grant=$(call /licence/obtain "{\"ConnectionID\":\"$connection\",\"Session\":{\"SessionNumber\":\"1\",\"InfoBaseConnectionString\":\"File=\\\"/srv/demo\\\"\",\"AppName\":\"1CV8C\",\"ComputerName\":\"$(hostname)\",\"UserName\":\"Администратор\",\"SessionStarted\":\"$(date -u +%Y-%m-%dT%H:%M:%S.000Z)\",\"AccessCode\":null}}")
  echo "$grant" | jq .
  session=$(echo "$grant" | jq -r .SessionID)

  step "GET /api/sessions shows it"
  show_sessions

  step "curl releases the licence"
  call /licence/release "{\"ConnectionID\":\"$connection\",\"SessionID\":\"$session\"}" | jq .
  api /api/sessions | jq -c '{Sessions: (.Sessions | length)}'
fi

step "Done: the server stops; its log was"
kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""
cat "$work"/root/3.0/logs/licenceserver.*.log
