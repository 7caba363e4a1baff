#!/usr/bin/env bash
# Fuzzes the C++ model-file reader (tests/fuzz/fuzz_model_file.cpp) with
# libFuzzer under AddressSanitizer and UndefinedBehaviorSanitizer, for a
# bounded time, starting from the seeds in tests/fuzz/seeds.
#
#   bash tools/fuzz.sh                  # 60 s; .ci/run calls it
#   NANOPQ_CPP_FUZZ_SECONDS=600 bash tools/fuzz.sh
#   bash tools/fuzz.sh path/to/crash    # replay inputs (e.g. a saved crash)
#
# Needs clang with libFuzzer: on Debian, apt-get install clang
# libclang-rt-14-dev, done here when missing and run as root. Builds in
# build/fuzz/ (NANOPQ_CPP_FUZZ_BUILD overrides); the growing corpus and any
# crash input are kept there, never written into the source tree.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${NANOPQ_CPP_FUZZ_BUILD:-$ROOT/build/fuzz}"
SECONDS_TO_FUZZ="${NANOPQ_CPP_FUZZ_SECONDS:-60}"
TARGET="$BUILD/fuzz_model_file"
SOURCE="$ROOT/tests/fuzz/fuzz_model_file.cpp"

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

if [ ! -x "$TARGET" ] || [ -n "$(find "$ROOT/cpp/include" "$SOURCE" -newer "$TARGET" -print -quit)" ]; then
  echo "fuzz: building $TARGET with $CLANGXX"
  "$CLANGXX" -std=c++17 -g -O1 -fno-omit-frame-pointer \
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
    -I "$ROOT/cpp/include" "$SOURCE" -o "$TARGET"
fi

export ASAN_OPTIONS="abort_on_error=1:detect_leaks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
# LeakSanitizer needs ptrace, which some containers forbid.
if ! "$TARGET" -runs=0 "$ROOT/tests/fuzz/seeds" >/dev/null 2>&1; then
  export ASAN_OPTIONS="abort_on_error=1:detect_leaks=0"
fi

if [ "$#" -gt 0 ]; then
  exec "$TARGET" "$@"
fi

CORPUS="$BUILD/corpus"
mkdir -p "$CORPUS" "$BUILD/artifacts"
echo "fuzz: ${SECONDS_TO_FUZZ}s on the model-file reader"
# -max_len: a few small models; larger inputs only slow each run down.
"$TARGET" "$CORPUS" "$ROOT/tests/fuzz/seeds" \
  -max_total_time="$SECONDS_TO_FUZZ" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
  -artifact_prefix="$BUILD/artifacts/" -print_final_stats=1 2>"$BUILD/fuzz.log" || {
  status=$?
  tail -60 "$BUILD/fuzz.log" >&2
  echo "fuzz: the model-file reader failed (exit $status); the input is in $BUILD/artifacts/" >&2
  exit "$status"
}
grep -E "^(stat::number_of_executed_units|stat::peak_rss_mb|#[0-9]+ *DONE)" "$BUILD/fuzz.log" || tail -3 "$BUILD/fuzz.log"
echo "fuzz: no failure"
