#!/usr/bin/env bash
# The add-in's release build, in one command, for the four platforms of the bundle:
#   Linux x86_64 and i386: cargo-zigbuild against glibc 2.17 (the oldest Linux the administrator's
#     guide lists: CentOS 6.7+/Debian 7.5+); checked to need no newer glibc symbol, to export exactly
#     the five Native API functions, and by the C harness's checks (a 32-bit harness for i386);
#   Windows x64 and x86: cargo with Debian's mingw-w64 as the linker (it honours the export list rustc
#     writes, which zig's linker does not); checked to export exactly the five functions, undecorated,
#     and to import only DLLs every Windows 10 has. They are not run here (that needs Windows).
# Each build also checks the Native API's layout for its target against the one description
# (nativeapi/: tVariant's size and offsets, every vtable slot, the export signatures; a wrong number in
# the description stops all four). The generated headers are checked against the same description
# (drift) and compiled for i386 and both Windows targets, which evaluates their layout assertions there.
# Then writes the zip bundle (MANIFEST.XML + the four libraries) for a common template.
# Installs what it needs when missing: gcc-multilib and mingw-w64 (apt), the four rustup targets, the
# `ziglang` package from PyPI and cargo-zigbuild.
#   output: target/addin/licenceaddin.zip (the libraries under target/addin/{triple}/release/)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh gcc-multilib gcc-mingw-w64-x86-64-win32 gcc-mingw-w64-i686-win32

linux_targets=(x86_64-unknown-linux-gnu i686-unknown-linux-gnu)
windows_targets=(x86_64-pc-windows-gnu i686-pc-windows-gnu)
installed=$(rustup target list --installed)
for target in "${linux_targets[@]}" "${windows_targets[@]}"; do
  grep -qx "$target" <<<"$installed" || rustup target add "$target" </dev/null
done
if ! python3 -m ziglang version >/dev/null 2>&1; then
  echo "build-addin: installing zig (PyPI package ziglang)"
  python3 -m pip install --quiet --disable-pip-version-check ziglang </dev/null
fi
if ! command -v cargo-zigbuild >/dev/null 2>&1; then
  echo "build-addin: installing cargo-zigbuild"
  cargo install --quiet --locked cargo-zigbuild </dev/null || cargo install --quiet cargo-zigbuild </dev/null
fi

out=target/addin
native_api="DestroyObject GetAttachType GetClassNames GetClassObject SetPlatformCapabilities "
cargo zigbuild --quiet --release -p licenceaddin --target-dir "$out" \
  --target x86_64-unknown-linux-gnu.2.17 --target i686-unknown-linux-gnu.2.17
# rustc links these with {x86_64,i686}-w64-mingw32-gcc by default.
cargo build --quiet --release -p licenceaddin --target-dir "$out" --target x86_64-pc-windows-gnu --target i686-pc-windows-gnu

# The headers: exactly what the description renders, and accepted by each platform's C compiler.
cargo run --quiet -p licence-ffi-headers -- --check
for cc in "gcc -m32" x86_64-w64-mingw32-gcc i686-w64-mingw32-gcc; do
  # shellcheck disable=SC2086 # "gcc -m32" is a command and its flag
  echo '#include "nativeapi.h"' | $cc -std=c11 -Wall -Wextra -Werror -fsyntax-only -I ffi-headers/include -x c -
done
echo "build-addin: the headers match the description and hold on Linux i386, Windows x64 and Windows x86"

# check_linux TRIPLE HARNESS: glibc symbol versions, exports, the harness's checks.
check_linux() {
  local library="$out/$1/release/liblicenceaddin.so" newest exports status=0 result
  newest=$(objdump -T "$library" | grep -oE 'GLIBC_[0-9]+\.[0-9]+' | sort -t. -k2,2n -u | tail -n 1)
  case "$newest" in
    GLIBC_2.1[0-7] | GLIBC_2.[0-9]) echo "build-addin: $library needs at most $newest" ;;
    *) echo "build-addin: $library needs $newest, newer than glibc 2.17" >&2; return 1 ;;
  esac
  exports=$(nm -D --defined-only "$library" | awk '{print $3}' | sort | tr '\n' ' ')
  if [ "$exports" != "$native_api" ]; then
    echo "build-addin: $library: unexpected exports: $exports" >&2
    return 1
  fi
  result=$("$2" "$library" | tail -n 1) || status=$?
  echo "release build $1: $result"
  return "$status"
}

# The DLLs a Windows 10 or newer has in System32 (Rust's std needs Windows 10), lower case.
stock_dlls=" advapi32.dll api-ms-win-core-synch-l1-2-0.dll bcrypt.dll bcryptprimitives.dll kernel32.dll msvcrt.dll "
stock_dlls+="ntdll.dll userenv.dll ws2_32.dll "
# check_windows TRIPLE OBJDUMP: exports (names exactly as the platform looks them up) and imports.
check_windows() {
  local library="$out/$1/release/licenceaddin.dll" exports imports dll
  exports=$("$2" -p "$library" | sed -n '/\[Ordinal\/Name Pointer\] Table/,/^$/p' |
    sed -n 's/^[[:space:]]*\[ *[0-9]*\] //p' | sort | tr '\n' ' ')
  if [ "$exports" != "$native_api" ]; then
    echo "build-addin: $library: unexpected exports: $exports" >&2
    return 1
  fi
  imports=$("$2" -p "$library" | sed -n 's/^[[:space:]]*DLL Name: //p' | tr 'A-Z' 'a-z' | sort -u)
  for dll in $imports; do
    if [[ "$stock_dlls" != *" $dll "* ]]; then
      echo "build-addin: $library imports $dll, which a stock Windows lacks" >&2
      return 1
    fi
  done
  echo "build-addin: $library exports the five functions and imports only" $imports
}

make -s -C test-harness harness harness-i386
check_linux x86_64-unknown-linux-gnu test-harness/harness
check_linux i686-unknown-linux-gnu test-harness/i386/harness
check_windows x86_64-pc-windows-gnu x86_64-w64-mingw32-objdump
check_windows i686-pc-windows-gnu i686-w64-mingw32-objdump

bundled=$(cargo run --quiet -p licence-bundle -- --target-dir "$out" --profile release --out "$out/licenceaddin.zip")
printf '%s\n' "$bundled"
if [ "$(grep -c -E '^(Linux|Windows) ' <<<"$bundled")" -ne 4 ]; then
  echo "build-addin: the bundle lacks a platform" >&2
  exit 1
fi
echo "build-addin: done in ${SECONDS}s"
