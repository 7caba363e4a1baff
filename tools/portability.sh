#!/usr/bin/env bash
# Builds the C++ tests where we cannot otherwise check them:
#   1. with clang (Debian's clang, -Werror), under ctest;
#   2. cross-compiled for 64-bit ARM, where the NEON kernels are built
#      (tools/aarch64/aarch64-toolchain.cmake), and run under qemu-user with
#      ctest: test_kernels checks each NEON entry against the portable one;
#   3. cross-compiled for Windows with mingw-w64 (every C++ test program and
#      tests/cpp/windows_consumer.cpp, which includes <windows.h> first), and
#      run under wine where wine64 is installed.
# Missing compilers are installed from Debian when run as root (as in CI);
# elsewhere their step is skipped with a message.
#
#   bash tools/portability.sh            # .ci/run calls it
#   NANOPQ_CPP_PORTABILITY_WINE=0 bash tools/portability.sh   # build only
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${NANOPQ_CPP_PORTABILITY_BUILD:-$ROOT/build/portability}"
mkdir -p "$BUILD"

apt_install() {  # packages...
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    echo "portability: installing $* from Debian"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
  fi
}

# -- 1. clang with warnings as errors ------------------------------------------------------
command -v clang++ >/dev/null || apt_install clang
if command -v clang++ >/dev/null; then
  echo "portability: the C++ tests with $(clang++ --version | head -1), -Werror"
  cmake -S "$ROOT" -B "$BUILD/clang" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=clang++ >/dev/null
  cmake --build "$BUILD/clang" -j2 >/dev/null
  ctest --test-dir "$BUILD/clang" --output-on-failure --no-tests=error | tail -3
else
  echo "portability: no clang++; skipped the clang build" >&2
fi

# doctest is header-only; a cross compiler must not see the host's
# /usr/include, so it gets a folder of its own with doctest alone.
DOCTEST="$(find /usr/include /usr/local/include -name doctest.h -path '*doctest/doctest.h' 2>/dev/null | head -1)"
if [ -z "$DOCTEST" ]; then
  echo "portability: doctest.h not found (apt-get install doctest-dev)" >&2
  exit 1
fi
mkdir -p "$BUILD/doctest/include/doctest"
cp "$DOCTEST" "$BUILD/doctest/include/doctest/"

# -- 2. 64-bit ARM (NEON), cross-compiled, under qemu-user -----------------------------------
ARM=aarch64-linux-gnu-g++
command -v "$ARM" >/dev/null || apt_install g++-aarch64-linux-gnu
command -v qemu-aarch64 >/dev/null || apt_install qemu-user
if command -v "$ARM" >/dev/null && command -v qemu-aarch64 >/dev/null; then
  echo "portability: the C++ tests for aarch64 (NEON) with $("$ARM" --version | head -1), under qemu"
  cmake -S "$ROOT" -B "$BUILD/arm64" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_TOOLCHAIN_FILE="$ROOT/tools/aarch64/aarch64-toolchain.cmake" \
    -DNANOPQ_CPP_DOCTEST_INCLUDE_DIR="$BUILD/doctest/include" >/dev/null
  cmake --build "$BUILD/arm64" -j2 >/dev/null
  ctest --test-dir "$BUILD/arm64" --output-on-failure --no-tests=error | tail -3
else
  echo "portability: no $ARM or qemu-aarch64; skipped the ARM build" >&2
fi

# -- 3. Windows, cross-compiled with mingw-w64 ---------------------------------------------
MINGW=x86_64-w64-mingw32-g++-posix
command -v "$MINGW" >/dev/null || apt_install g++-mingw-w64-x86-64-posix
if ! command -v "$MINGW" >/dev/null; then
  echo "portability: no $MINGW; skipped the Windows build" >&2
  exit 0
fi

mkdir -p "$BUILD/mingw"
programs=("$ROOT/tests/cpp/windows_consumer.cpp")
for source in "$ROOT"/tests/cpp/test_*.cpp; do programs+=("$source"); done
echo "portability: cross-compiling ${#programs[@]} programs for Windows with $("$MINGW" --version | head -1)"
# -static: the programs carry libstdc++ and winpthreads, so wine needs no DLLs from the host.
printf '%s\n' "${programs[@]}" | xargs -P 2 -I{} sh -c '
  name="$(basename "{}" .cpp)"
  '"$MINGW"' -std=c++17 -O1 -Wall -Wextra -Wpedantic -Werror -static \
    -I "'"$ROOT"'/cpp/include" -isystem "'"$BUILD"'/doctest/include" "{}" -o "'"$BUILD"'/mingw/$name.exe"
'
echo "portability: every program compiles for Windows"

if [ "${NANOPQ_CPP_PORTABILITY_WINE:-1}" = 0 ]; then exit 0; fi
find_wine() {
  command -v wine64 || command -v wine || { [ -x /usr/lib/wine/wine64 ] && echo /usr/lib/wine/wine64; } || true
}
WINE="$(find_wine)"
if [ -z "$WINE" ]; then
  apt_install wine64
  WINE="$(find_wine)"
fi
if [ -z "$WINE" ]; then
  echo "portability: no wine64; the Windows programs were built but not run"
  exit 0
fi
export WINEPREFIX="$BUILD/wine-prefix" WINEDEBUG=-all
failed=0
for program in "$BUILD"/mingw/*.exe; do
  if "$WINE" "$program" >"$program.log" 2>&1; then
    echo "portability: wine ran $(basename "$program"): ok"
  else
    echo "portability: wine ran $(basename "$program"): FAILED" >&2
    tail -30 "$program.log" >&2
    failed=1
  fi
done
exit "$failed"
