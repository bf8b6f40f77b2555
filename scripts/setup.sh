#!/usr/bin/env bash
# Installs what building and testing the project needs on a fresh Debian machine with a Rust toolchain:
# a C compiler (SQLite is built from source, the C harness is C), pkg-config, libusb, and the Rust components
# rustfmt and clippy. Installs nothing that is already there; safe to run again. No standard input is read.
set -euo pipefail

need_apt=()
command -v cc >/dev/null 2>&1 || need_apt+=(build-essential)
command -v pkg-config >/dev/null 2>&1 || need_apt+=(pkg-config)
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
# The server finds USB licence keys through libusb (the rusb crate links it).
dpkg -s libusb-1.0-0-dev >/dev/null 2>&1 || need_apt+=(libusb-1.0-0-dev)
for pkg in "$@"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done

if ((${#need_apt[@]})); then
  echo "setup: installing ${need_apt[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo -n)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq </dev/null
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${need_apt[@]}" </dev/null
fi

if command -v rustup >/dev/null 2>&1; then
  for component in rustfmt clippy; do
    rustup component list --installed 2>/dev/null | grep -q "^$component" || rustup component add "$component"
  done
fi
