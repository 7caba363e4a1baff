#!/usr/bin/env bash
# Fuzzes the core's readers of untrusted bytes with libFuzzer under
# AddressSanitizer and UndefinedBehaviorSanitizer, each for a bounded time:
# the model-file reader (tests/fuzz/fuzz_model_file.cpp, from the seeds in
# tests/fuzz/seeds) and packed codes from bytes and a shape, as unpickling
# makes them (tests/fuzz/fuzz_packed_codes.cpp).
#
#   bash tools/fuzz.sh                  # 60 s a target; .ci/run calls it
#   NANOPQ_CPP_FUZZ_SECONDS=600 bash tools/fuzz.sh
#   bash tools/fuzz.sh path/to/crash    # replay inputs on the model-file target
#   NANOPQ_CPP_FUZZ_TARGET=fuzz_packed_codes bash tools/fuzz.sh path/to/crash
#
# Needs clang with libFuzzer: on Debian, apt-get install clang
# libclang-rt-14-dev, done here when missing and run as root. Builds in
# build/fuzz/ (NANOPQ_CPP_FUZZ_BUILD overrides); the growing corpus and any
# crash input are kept there, never written into the source tree.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${NANOPQ_CPP_FUZZ_BUILD:-$ROOT/build/fuzz}"
SECONDS_TO_FUZZ="${NANOPQ_CPP_FUZZ_SECONDS:-60}"

find_clang() {
  for candidate in clang++ clang++-19 clang++-18 clang++-17 clang++-16 clang++-15 clang++-14; do
    command -v "$candidate" >/dev/null || continue
    # Usable only if it links libFuzzer's runtime.
    if printf 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }\n' |
      "$candidate" -x c++ -fsanitize=fuzzer - -o "$BUILD/probe" >/dev/null 2>&1; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

mkdir -p "$BUILD"
if ! CLANGXX="$(find_clang)"; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    echo "fuzz: installing clang and libFuzzer from Debian"
    apt-get update -qq && apt-get install -y -qq clang libclang-rt-14-dev >/dev/null
  fi
  CLANGXX="$(find_clang)" || {
    echo "fuzz: no clang++ with libFuzzer found (Debian: apt-get install clang libclang-rt-14-dev)" >&2
    exit 1
  }
fi

build_target() {  # name
  local target="$BUILD/$1" source="$ROOT/tests/fuzz/$1.cpp"
  if [ ! -x "$target" ] || [ -n "$(find "$ROOT/cpp/include" "$source" -newer "$target" -print -quit)" ]; then
    echo "fuzz: building $target with $CLANGXX"
    "$CLANGXX" -std=c++17 -g -O1 -fno-omit-frame-pointer \
      -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
      -I "$ROOT/cpp/include" "$source" -o "$target"
  fi
}
build_target fuzz_model_file
build_target fuzz_packed_codes

export ASAN_OPTIONS="abort_on_error=1:detect_leaks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
# LeakSanitizer needs ptrace, which some containers forbid.
if ! "$BUILD/fuzz_model_file" -runs=0 "$ROOT/tests/fuzz/seeds" >/dev/null 2>&1; then
  export ASAN_OPTIONS="abort_on_error=1:detect_leaks=0"
fi

if [ "$#" -gt 0 ]; then
  exec "$BUILD/${NANOPQ_CPP_FUZZ_TARGET:-fuzz_model_file}" "$@"
fi

run_target() {  # name, what it reads, seed folders...
  local name="$1" what="$2"
  shift 2
  local corpus="$BUILD/corpus-$name" log="$BUILD/$name.log"
  mkdir -p "$corpus" "$BUILD/artifacts"
  echo "fuzz: ${SECONDS_TO_FUZZ}s on $what"
  # -max_len: a few small models or blocks; larger inputs only slow each run down.
  "$BUILD/$name" "$corpus" "$@" \
    -max_total_time="$SECONDS_TO_FUZZ" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$BUILD/artifacts/$name-" -print_final_stats=1 2>"$log" || {
    status=$?
    tail -60 "$log" >&2
    echo "fuzz: $what failed (exit $status); the input is in $BUILD/artifacts/" >&2
    exit "$status"
  }
  grep -E "^(stat::number_of_executed_units|stat::peak_rss_mb|#[0-9]+ *DONE)" "$log" || tail -3 "$log"
}
run_target fuzz_model_file "the model-file reader" "$ROOT/tests/fuzz/seeds"
run_target fuzz_packed_codes "packed codes from bytes"
echo "fuzz: no failure"
