#!/usr/bin/env bash
# Builds the C++ tests and the Python extension with AddressSanitizer and
# UndefinedBehaviorSanitizer, runs both, and fails on any sanitizer report.
#
#   bash tools/sanitize.sh            # from any directory; .ci/run calls it
#
# Uses the python3 on PATH (CI's venv with ".[test]" installed), Debian's gcc
# and its sanitizer runtimes, CMake, and doctest (installed with apt-get when
# missing and possible). The build goes to build/asan/ (NANOPQ_CPP_ASAN_BUILD
# overrides); nothing is installed.
#
# The Python suite runs on the interpreter as it is, with gcc's libasan
# preloaded (Python itself is not instrumented, so the runtime must come
# first) and the sanitized _core next to a copy of the package on PYTHONPATH.
# Left out: tests marked slow, tests marked scale (Ray's and Spark's own
# binaries and the JVM would start with the sanitizer preloaded; merge_topk,
# which they use, is tested here in tests/test_merge.py), faiss (its own SWIG
# code, not ours, and slow under the sanitizer), tests that build or run
# native programs or measure memory (compilers and RSS under a preloaded
# sanitizer tell nothing). The model-file tests run, but for those that run
# the native example program: Python reads and writes model files through the
# core's C++ reader and writer, which ctest and tools/fuzz.sh also sanitize.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${NANOPQ_CPP_ASAN_BUILD:-$ROOT/build/asan}"
PYTHON="${PYTHON:-python3}"
JOBS="${NANOPQ_CPP_ASAN_JOBS:-2}"
LOG="$BUILD/logs"
START=$SECONDS

step() { printf '\n== sanitize: %s (%ds)\n' "$*" "$((SECONDS - START))"; }

# -O1 keeps the suite fast enough; frame pointers give readable stacks.
SANITIZE="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
export ASAN_OPTIONS="abort_on_error=1:detect_stack_use_after_return=1:strict_string_checks=1:check_initialization_order=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

step "prerequisites"
if [ ! -f /usr/include/doctest/doctest.h ] && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  apt-get update -qq && apt-get install -y -qq doctest-dev >/dev/null
fi
command -v cmake >/dev/null || "$PYTHON" -m pip install --quiet cmake
"$PYTHON" -m pybind11 --cmakedir >/dev/null 2>&1 || "$PYTHON" -m pip install --quiet "pybind11==3.1.0"  # pyproject's pin
LIBASAN="$(gcc -print-file-name=libasan.so)"
# libstdc++ is preloaded too: ASan's __cxa_throw interceptor binds to the real
# one when it starts, and Python does not link libstdc++, so without it the
# first C++ exception from _core fails ASan's CHECK instead of being thrown.
LIBSTDCXX="$(gcc -print-file-name=libstdc++.so)"
if [ ! -e "$LIBASAN" ]; then
  echo "sanitize: gcc has no libasan.so (Debian: apt-get install libasan8 or gcc)" >&2
  exit 1
fi
mkdir -p "$LOG"

step "configure $BUILD"
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER=g++ \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" \
  -DCMAKE_CXX_FLAGS="$SANITIZE" \
  -DCMAKE_EXE_LINKER_FLAGS="$SANITIZE" \
  -DCMAKE_SHARED_LINKER_FLAGS="$SANITIZE" \
  -DCMAKE_MODULE_LINKER_FLAGS="$SANITIZE" \
  -DNANOPQ_CPP_BUILD_TESTS=ON \
  -DNANOPQ_CPP_BUILD_PYTHON=ON \
  -DPython_EXECUTABLE="$(command -v "$PYTHON")" \
  -Dpybind11_DIR="$("$PYTHON" -m pybind11 --cmakedir)" >"$LOG/configure.log"

step "build (C++ tests and _core)"
cmake --build "$BUILD" -j "$JOBS" >"$LOG/build.log" 2>&1 || { tail -50 "$LOG/build.log"; exit 1; }

# Any of these lines in a log is a failure, even from a process whose exit
# status was ignored (a subprocess, a test expecting an error).
REPORT_PATTERN='ERROR: (Address|Leak|UndefinedBehavior)Sanitizer|Sanitizer: CHECK failed|runtime error:|SUMMARY: [A-Za-z]*Sanitizer'

check_log() {
  if grep -Eq "$REPORT_PATTERN" "$1"; then
    echo "sanitize: sanitizer report in $1:" >&2
    grep -E -B2 -A30 "$REPORT_PATTERN" "$1" | head -80 >&2
    exit 1
  fi
}

step "C++ tests (ctest)"
# LeakSanitizer works where ptrace is allowed; containers often forbid it,
# and then it aborts every test. Try it on one test and keep it if it works.
detect_leaks=0
if ASAN_OPTIONS="$ASAN_OPTIONS:detect_leaks=1" "$BUILD/tests/cpp/test_version" >/dev/null 2>&1; then detect_leaks=1; fi
ASAN_OPTIONS="$ASAN_OPTIONS:detect_leaks=$detect_leaks" \
  ctest --test-dir "$BUILD" --output-on-failure --no-tests=error -j "$JOBS" >"$LOG/ctest.log" 2>&1 ||
  { tail -80 "$LOG/ctest.log"; exit 1; }
check_log "$LOG/ctest.log"
tail -3 "$LOG/ctest.log"

step "Python package with the sanitized _core"
PACKAGE_DIR="$BUILD/python"
rm -rf "$PACKAGE_DIR"
mkdir -p "$PACKAGE_DIR"
cp -r "$ROOT/python/nanopq_cpp" "$PACKAGE_DIR/"
rm -f "$PACKAGE_DIR"/nanopq_cpp/_core*.so
core_module="$(find "$BUILD" -maxdepth 1 -name '_core*.so' | head -1)"
[ -n "$core_module" ] || { echo "sanitize: no _core module in $BUILD" >&2; exit 1; }
cp "$core_module" "$PACKAGE_DIR/nanopq_cpp/"

# An editable install (scikit-build-core) puts a finder on sys.meta_path that
# wins over PYTHONPATH; it is removed so the copy above is the one imported.
LAUNCHER='
import sys
sys.meta_path[:] = [finder for finder in sys.meta_path if "editable" not in type(finder).__module__]
sys.argv = sys.argv[1:]
if sys.argv[0] == "-c":
    exec(sys.argv[1])
else:
    import runpy
    runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
'

run_python() {
  # Python's own allocations look like leaks at exit: leak checking stays off.
  PYTHONPATH="$PACKAGE_DIR" LD_PRELOAD="$LIBASAN $LIBSTDCXX" \
    ASAN_OPTIONS="$ASAN_OPTIONS:detect_leaks=0" "$PYTHON" -c "$LAUNCHER" "$@"
}

loaded="$(run_python -c 'import nanopq_cpp, nanopq_cpp._core as core; print(nanopq_cpp.__file__, core.__file__)')"
case "$loaded" in
  "$PACKAGE_DIR"/*" $PACKAGE_DIR"/*) echo "sanitize: importing $loaded" ;;
  *) echo "sanitize: the sanitized package was not the one imported ($loaded)" >&2; exit 1 ;;
esac

step "Python suite"
cd "$ROOT"
status=0
run_python pytest -q -p no:cacheprovider tests \
  -m "not slow and not scale" \
  --ignore=tests/test_faiss.py \
  --ignore=tests/test_native_consumer.py \
  --ignore=tests/test_wheel_contents.py \
  --ignore=tests/test_memory.py \
  --deselect=tests/test_model_file.py::test_a_pq_saved_in_python_encodes_identically_in_cpp \
  --deselect=tests/test_model_file.py::test_a_pq_trained_in_python_searches_identically_in_cpp \
  --deselect=tests/test_model_file.py::test_an_opq_trained_in_python_encodes_the_same_in_cpp \
  --deselect=tests/test_model_file.py::test_a_pq_trained_in_cpp_is_the_one_python_trains \
  --deselect=tests/test_model_file.py::test_an_opq_trained_in_cpp_loads_and_encodes_in_python \
  --deselect=tests/test_model_file.py::test_cpp_reports_bad_files_clearly \
  -o addopts="-ra --strict-markers" >"$LOG/pytest.log" 2>&1 || status=$?
tail -5 "$LOG/pytest.log"
check_log "$LOG/pytest.log"
if [ "$status" -ne 0 ]; then
  grep -E "^(FAILED|ERROR)" "$LOG/pytest.log" | head -40 >&2 || true
  echo "sanitize: the Python suite failed under the sanitizers (exit $status); see $LOG/pytest.log" >&2
  exit "$status"
fi

step "done: no sanitizer reports"
