#!/usr/bin/env bash
# The demo: builds the server, the vendor's kit and the add-in; the vendor creates a key series, a demo
# product and an activation code and starts the activation centre; a real licence server in a scratch
# folder on a loopback port installs the demo key from the code (POST /api/licences) and shows the
# REST API answering; then the demo loads liblicenceaddin.so exactly as 1C loads it (test-harness/demo, a small
# C platform) and drives it as a configuration's BSL does: connect, obtain a licence — shown in the
# server's /api/sessions while held — and release it; finally stops the server. The configuration
# pins the series' public key (the vendor's 672B.pub) in ОткрытыйКлючСерии, as every configuration
# must: the server proves at connect that it holds a key signed by it, and every later call is sealed.
# Nothing outside the scratch folder is touched. DEMO_PORT picks the server's port (default 9099),
# DEMO_CENTRE_PORT the activation centre's (default 9180).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh jq

port="${DEMO_PORT:-9099}"
centre_port="${DEMO_CENTRE_PORT:-9180}"
cargo build --quiet -p licenceserver -p licence-devkit -p licenceaddin
make -s -C test-harness demo
bin="${CARGO_TARGET_DIR:-$(pwd)/target}/debug"
work="$(mktemp -d -t licence-demo.XXXXXX)"
server_pid=""
centre_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  [ -n "$centre_pid" ] && kill "$centre_pid" 2>/dev/null && wait "$centre_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
# The API refuses changes while its password is the default admin/admin: the administrator sets one
# (written in clear here, the server replaces it by its hash at start).
api_login="admin:demo-api-pass-1"
api() { curl -sS -u "$api_login" "http://127.0.0.1:$port$1"; }

mkdir -p "$work/root/3.0" "$work/root/data" "$work/vendor" "$work/home"
if [ ! -s /etc/machine-id ] && [ ! -s /var/lib/dbus/machine-id ]; then
  # A container without a machine id: pin one, as the example config explains.
  cat /proc/sys/kernel/random/uuid > "$work/root/machine-id"
  printf '[Common]\nMachineIdFile=%s\n' "$work/root/machine-id" > "$work/root/3.0/licenceserver.conf"
fi

printf '[Common]\nLicenceCenterUrl=http://127.0.0.1:%s\n' "$centre_port" >> "$work/root/3.0/licenceserver.conf"
printf '[API]\nPassword=%s\n' "${api_login#admin:}" >> "$work/root/3.0/licenceserver.conf"
export LICENCEEDIT_VENDOR_DIR="$work/vendor"

step "The vendor creates series 672B (signing key and series secret) in its store"
"$bin/licenceedit" series create 672B

pin="$(tr -d '[:space:]' < "$work/vendor/672B.pub")"
echo "the series' public key, which the configuration pins: $pin"

step "The vendor defines a demo product: 5 licences for 30 days, and sells an activation code for it"
"$bin/licenceedit" product add --series 672B --article DEMO-30 --name "Демонстрационная конфигурация" \
  --article-name "Демоверсия на 30 дней" --kind demo --count 5 --period 30 --product-version 1.0
code=$("$bin/licenceedit" code issue --article DEMO-30)
echo "activation code: $code"

step "The vendor's activation centre starts on 127.0.0.1:$centre_port"
"$bin/licencecentre" --listen "127.0.0.1:$centre_port" 2>"$work/centre.stderr" &
centre_pid=$!
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$centre_port/health" >/dev/null 2>&1 && break
  kill -0 "$centre_pid" 2>/dev/null || { cat "$work/centre.stderr"; exit 1; }
  sleep 0.1
done

step "Start the licence server on 127.0.0.1:$port"
"$bin/licenceserver" -r --root "$work/root" --listen 127.0.0.1 --port "$port" 2>"$work/server.stderr" &
server_pid=$!
for _ in $(seq 1 100); do
  api /api >/dev/null 2>&1 && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.stderr"; exit 1; }
  sleep 0.1
done

step "The administrator installs the licence: POST /api/licences with the code"
curl -sS -u "$api_login" -X POST -H 'Content-Type: application/json' \
  -d "{\"ActivationCodeString\": \"$code\", \"ITN\": null, \"IEC\": null, \"BlankKeyNo\": null}" \
  -w '\nHTTP %{http_code}\n' "http://127.0.0.1:$port/api/licences" | tee "$work/installed.json" | sed '$d' | \
  jq '{KeyNo, KeyID, KeyType, LicenceCount, ActivationCode, DaysLeft, Workable}'
grep -q '^HTTP 201$' "$work/installed.json" || { echo "the licence was not installed"; exit 1; }
key_no=$(sed '$d' "$work/installed.json" | jq -r .KeyNo)
step "GET /api/licences/$key_no/backupcode (keep it away from this computer)"
api "/api/licences/$key_no/backupcode" | jq .

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
export port api_login
export -f step api show_sessions
HOME="$work/home" LICENCE_SERIES_PUBLIC_KEY="$pin" test-harness/demo "$bin/liblicenceaddin.so" 127.0.0.1 "$port" \
  bash -c 'step "GET /api/sessions shows it (the add-in holds the licence)"; show_sessions' ||
  addin_status=$?
if [ "$addin_status" -eq 0 ]; then
  step "After ОсвободитьЛицензию the server holds no session"
  api /api/sessions | jq -c '{Sessions: (.Sessions | length)}'
else
  echo "the add-in could not obtain a licence (exit $addin_status)"; exit 1
fi

step "Done: the server and the centre stop; the centre logged"
kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""
kill "$centre_pid"; wait "$centre_pid" 2>/dev/null || true; centre_pid=""
cat "$work/centre.stderr"
step "and the server's log was"
cat "$work"/root/3.0/logs/licenceserver.*.log
