#!/usr/bin/env bash
# The benchmark, on demand: builds the release binaries, starts nginx (serving a static answer the size
# of an obtain answer) and a licence server with a fresh 20,000-licence key in a scratch folder, both on
# loopback ports, runs every licencebench scenario against them in one go, prints the summary table and
# writes it to bench-results/summary.txt. Both servers are stopped at the end, whatever happens.
# Nothing fails on a timing: the figures are information (PASS/MISS against the issue's targets).
#
# Knobs (environment): BENCH_NGINX_PORT (18080), BENCH_SERVER_PORT (19099), BENCH_CLIENTS (50),
# BENCH_SECONDS (10), BENCH_HOLD (20), BENCH_THREADS (1). Extra arguments go to licencebench as they are.
set -euo pipefail
cd "$(dirname "$0")/.."

nginx_port="${BENCH_NGINX_PORT:-18080}"
server_port="${BENCH_SERVER_PORT:-19099}"
series=672B

say() { printf '\033[1m== %s\033[0m\n' "$*" >&2; }
die() { echo "bench.sh: $*" >&2; exit 1; }

port_is_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

answers() { curl -sf -o /dev/null --max-time 1 "$@"; }

# Waits up to 10 s for a URL to answer; fails early if the process that should serve it died.
wait_for() {
  local url=$1 pid=$2 log=$3
  shift 3
  for _ in $(seq 1 100); do
    answers "$@" "$url" && return 0
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; die "the process serving $url exited"; }
    sleep 0.1
  done
  cat "$log" >&2
  die "$url did not answer within 10 s"
}

install_nginx() {
  command -v nginx >/dev/null && return 0
  [ "$(id -u)" -eq 0 ] || die "nginx is missing; install it (apt-get install nginx) or run as root"
  say "Installing nginx"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq </dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx </dev/null >/dev/null
}

install_nginx
command -v curl >/dev/null || die "curl is missing"
port_is_free "$nginx_port" || die "port $nginx_port is taken; set BENCH_NGINX_PORT"
port_is_free "$server_port" || die "port $server_port is taken; set BENCH_SERVER_PORT"

say "Building the release binaries"
cargo build --release --quiet -p licenceserver -p licence-devkit -p licencebench
bin="$(pwd)/target/release"
# The build leaves much unwritten data in the page cache; flushing it now keeps its writeback from
# stalling the lease store's commits in the middle of a measurement.
sync

work="$(mktemp -d -t licence-bench.XXXXXX)"
server_pid=""
nginx_pid=""
cleanup() {
  [ -n "$nginx_pid" ] && kill -QUIT "$nginx_pid" 2>/dev/null && wait "$nginx_pid" 2>/dev/null
  [ -n "$server_pid" ] && kill -TERM "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "Creating series $series and a key with 20,000 licences for this computer"
root="$work/root"
mkdir -p "$root/3.0" "$root/data" "$work/vendor"
# Pin the machine identity so the key binds to this scratch server whatever the container provides.
# `licenceserver identity` creates the server's host secret ($root/3.0/host.secret) and prints the
# ComputerID and public TargetKey the key (format 2) is sealed to; licencebench pins the series' .pub
# as the add-in does and checks the server's proofs against it.
echo "licencebench-$(hostname)" >"$root/machine-id"
printf '[Common]\nMachineIdFile=%s\n' "$root/machine-id" >"$root/3.0/licenceserver.conf"
"$bin/licenceedit" series create "$series" --out "$work/vendor" >/dev/null
"$bin/licenceserver" --root "$root" identity >"$work/identity.json"
"$bin/licenceedit" key issue --cryptkey "$work/vendor/$series.cryptkey" --identity "$work/identity.json" \
  --key-no 1 --count 20000 --period 365 --product "licencebench" --out "$root/data" >/dev/null

say "Starting the licence server on 127.0.0.1:$server_port"
"$bin/licenceserver" -r --root "$root" --listen 127.0.0.1 --port "$server_port" 2>"$work/server.stderr" &
server_pid=$!
wait_for "http://127.0.0.1:$server_port/api" "$server_pid" "$work/server.stderr" -u admin:admin

say "Starting nginx on 127.0.0.1:$nginx_port"
www="$work/nginx/www"
mkdir -p "$www" "$work/nginx/logs"
# nginx's workers run as an unprivileged user when started by root: they must be able to read the file.
chmod 755 "$work" "$work/nginx" "$www"
# The same shape and size as the licence server's obtain answer.
printf '{"SessionID":"DB4AC14978FA4B5815A813550A03142B","KeyID":"%s","UsedLicence":1,"ExpireTime":"%s","Reused":false}' \
  "$series" "$(date -u +%Y-%m-%dT%H:%M:%S.000Z)" >"$www/answer.json"
chmod 644 "$www/answer.json"
cat >"$work/nginx/nginx.conf" <<EOF
worker_processes auto;
pid $work/nginx/nginx.pid;
error_log $work/nginx/logs/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  keepalive_timeout 65;
  keepalive_requests 100000000;
  server {
    listen 127.0.0.1:$nginx_port;
    root $www;
    location / { default_type application/json; }
  }
}
EOF
nginx -p "$work/nginx" -e "$work/nginx/logs/error.log" -c "$work/nginx/nginx.conf" -g 'daemon off;' \
  2>"$work/nginx.stderr" &
nginx_pid=$!
wait_for "http://127.0.0.1:$nginx_port/answer.json" "$nginx_pid" "$work/nginx.stderr"

mkdir -p bench-results
say "Running licencebench (about two minutes)"
status=0
"$bin/licencebench" all \
  --server "127.0.0.1:$server_port" --server-pid "$server_pid" \
  --static "127.0.0.1:$nginx_port" --static-path /answer.json --static-pid "$nginx_pid" \
  --series "$series" --series-key "$work/vendor/$series.pub" \
  --clients "${BENCH_CLIENTS:-50}" --seconds "${BENCH_SECONDS:-10}" \
  --hold "${BENCH_HOLD:-20}" --threads "${BENCH_THREADS:-1}" \
  --out bench-results/summary.txt "$@" || status=$?

cp "$work"/root/3.0/logs/licenceserver.*.log bench-results/ 2>/dev/null || true
say "Summary written to bench-results/summary.txt"
exit "$status"
