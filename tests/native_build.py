"""Builds the C++ example in examples/cpp for the tests, the ways a native user would.

- ``find_package``: against the installed Python package, through
  ``nanopq_cpp.get_cmake_dir()`` (the headers and CMake config in the wheel);
- ``add_subdirectory``: against this source tree, nothing installed;
- ``install_prefix``: ``cmake --install`` of this source tree into a prefix,
  then ``find_package`` with ``CMAKE_PREFIX_PATH``, as without Python.

Each build happens once per test session and is shared by the test modules.
Tests skip, saying why, when CMake or a C++ compiler is missing, or when the
source tree is not next to the tests (e.g. tests run from an sdist-less copy).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Dict, List, Sequence

import nanopq_cpp
import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_DIR = REPO / "examples" / "cpp"
MODES = ("find_package", "add_subdirectory", "install_prefix")

_built: Dict[str, Path] = {}
_prefixes: Dict[str, Path] = {}


def _run(command: Sequence[str], what: str, cwd: Path) -> None:
    result = subprocess.run(list(command), cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        pytest.fail(f"{what} failed ({' '.join(map(str, command))}):\n{result.stdout}\n{result.stderr}")


def require_toolchain() -> str:
    """The cmake executable; skips unless CMake and a C++ compiler are installed."""
    cmake = shutil.which("cmake")
    if cmake is None:
        pytest.skip("cmake is not installed")
    compilers = [os.environ.get("CXX", ""), "c++", "g++", "clang++", "cl"]
    if not any(name and shutil.which(name) for name in compilers):
        pytest.skip("no C++ compiler found (set CXX)")
    return cmake


def require_source_tree() -> None:
    if not (EXAMPLE_DIR / "CMakeLists.txt").is_file() or not (REPO / "CMakeLists.txt").is_file():
        pytest.skip(f"the nanopq_cpp source tree is not at {REPO}")


def installed_headers_are_current() -> bool:
    """False for an editable install whose built files predate the source headers.

    scikit-build-core's editable mode copies the headers and CMake config into
    site-packages at install time; after a header changes they are stale until
    reinstalling. A regular install is never stale by this test, so a missing
    or wrong header in a real wheel still fails the tests.
    """
    try:
        direct_url = json.loads(metadata.distribution("nanopq_cpp").read_text("direct_url.json") or "{}")
    except metadata.PackageNotFoundError:
        return True
    if not direct_url.get("dir_info", {}).get("editable", False):
        return True
    installed = Path(nanopq_cpp.get_include()) / "nanopq_cpp"
    source = REPO / "cpp" / "include" / "nanopq_cpp"
    for header in source.rglob("*.hpp"):
        copy = installed / header.relative_to(source)
        if not copy.is_file() or copy.read_bytes() != header.read_bytes():
            return False
    return True


def installed_prefix(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The prefix P of `cmake -S <repo> -B build && cmake --install build --prefix P`,
    with no Python involved; made once per session."""
    if "prefix" not in _prefixes:
        cmake = require_toolchain()
        require_source_tree()
        work_dir = tmp_path_factory.mktemp("native-install")
        library_build, prefix = work_dir / "library-build", work_dir / "prefix"
        _run(
            [cmake, "-S", str(REPO), "-B", str(library_build), "-DNANOPQ_CPP_BUILD_TESTS=OFF"],
            "configuring nanopq_cpp",
            work_dir,
        )
        _run(
            [cmake, "--install", str(library_build), "--prefix", str(prefix)],
            "installing nanopq_cpp",
            work_dir,
        )
        _prefixes["prefix"] = prefix
    return _prefixes["prefix"]


def _configure_arguments(mode: str, tmp_path_factory: pytest.TempPathFactory) -> List[str]:
    if mode == "find_package":
        try:
            cmake_dir = nanopq_cpp.get_cmake_dir()
        except FileNotFoundError as error:
            pytest.skip(str(error))
        if not installed_headers_are_current():
            pytest.skip(
                "the editable install's headers in site-packages are older than the source tree; "
                "reinstall nanopq_cpp to test find_package against them"
            )
        return [f"-Dnanopq_cpp_DIR={cmake_dir}"]
    if mode == "add_subdirectory":
        return [f"-DNANOPQ_CPP_SOURCE_DIR={REPO}"]
    return [f"-DCMAKE_PREFIX_PATH={installed_prefix(tmp_path_factory)}"]


def build_example(tmp_path_factory: pytest.TempPathFactory, mode: str) -> Path:
    """The built example executable for `mode` (one of MODES), built once per session."""
    if mode in _built:
        return _built[mode]
    cmake = require_toolchain()
    require_source_tree()
    arguments = _configure_arguments(mode, tmp_path_factory)
    work_dir = tmp_path_factory.mktemp(f"example-{mode}")
    build_dir = work_dir / "build"
    _run(
        [cmake, "-S", str(EXAMPLE_DIR), "-B", str(build_dir), "-DCMAKE_BUILD_TYPE=Release", *arguments],
        f"configuring the example ({mode})",
        work_dir,
    )
    _run(
        [cmake, "--build", str(build_dir), "--config", "Release", "-j", "2"],
        f"building the example ({mode})",
        work_dir,
    )
    name = "nanopq_cpp_example.exe" if sys.platform == "win32" else "nanopq_cpp_example"
    found = sorted(build_dir.rglob(name))
    if not found:
        pytest.fail(f"the example was built but {name} is not under {build_dir}")
    _built[mode] = found[0]
    return found[0]


def run_example(executable: Path, *arguments: object, expect_failure: bool = False) -> str:
    """Runs the example; returns stdout (or stderr when a failure is expected)."""
    result = subprocess.run(
        [str(executable), *map(str, arguments)], capture_output=True, text=True, check=False
    )
    if expect_failure:
        assert result.returncode != 0, f"expected a failure, got:\n{result.stdout}"
        return result.stderr
    assert result.returncode == 0, (
        f"{executable.name} {' '.join(map(str, arguments))} failed:\n{result.stderr}"
    )
    return result.stdout


def parse_codes(output: str):
    """The codes printed by `example encode`, as an int64 array of shape (N, M)."""
    import numpy as np

    return np.array([line.split() for line in output.splitlines()], dtype=np.int64)


def parse_search(output: str):
    """(ids int64 (Nq, k), distances float32 (Nq, k)) printed by `example search`."""
    import numpy as np

    ids, distances = [], []
    for line in output.splitlines():
        label, _, *values = line.split()
        (ids if label == "ids" else distances).append(values)
    return np.array(ids, dtype=np.int64), np.array(distances, dtype=np.float32)
