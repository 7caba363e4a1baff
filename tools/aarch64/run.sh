#!/usr/bin/env bash
# Cross-compiles nanopq_cpp's NEON path for aarch64 and runs it under qemu, on
# an x86_64 Debian machine: the umbrella header warning-free, then the doctest
# suite via ctest, whose test_kernels runs every NEON entry of the kernel table
# against the portable one.
# Needs: apt-get install -y --no-install-recommends g++-aarch64-linux-gnu qemu-user-static doctest-dev cmake ninja-build
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=${REPO:-$(cd "$here/../.." && pwd)}
work=${WORK:-$(mktemp -d)}
cxx=aarch64-linux-gnu-g++
qemu=qemu-aarch64-static
flags=(-std=c++17 -O2 -Wall -Wextra -Wpedantic -Werror -I"$repo/cpp/include" -pthread -static)

echo "== umbrella header, -Werror, aarch64"
printf '#include <nanopq_cpp/nanopq_cpp.hpp>\nint main() { return 0; }\n' > "$work/umbrella.cpp"
$cxx "${flags[@]}" "$work/umbrella.cpp" -o "$work/umbrella" && $qemu "$work/umbrella"

echo "== doctest suite through ctest under qemu"
# The cross compiler must not see the host's /usr/include, so doctest gets a folder of its own.
mkdir -p "$work/doctest-include/doctest" && cp /usr/include/doctest/doctest.h "$work/doctest-include/doctest/"
cmake -S "$repo" -B "$work/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_TOOLCHAIN_FILE="$here/aarch64-toolchain.cmake" \
      -DNANOPQ_CPP_DOCTEST_INCLUDE_DIR="$work/doctest-include"
cmake --build "$work/build" -j"$(nproc)"
ctest --test-dir "$work/build" --output-on-failure --no-tests=error
