"""The wheel holds exactly the files it should: the Python modules, the
extension and its stub, py.typed, the C++ headers and the CMake package, and its dist-info.

Checked two ways: on the installed distribution's RECORD (a regular
``pip install .`` installs exactly the wheel it built, so CI checks its own
wheel for free), and on a wheel built here from a copy of the source tree
(slow, needs scikit-build-core and pybind11 importable, as
``--no-build-isolation`` uses them).
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path
from typing import Iterable, Set

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE_SOURCE = REPO / "python" / "nanopq_cpp"
HEADER_SOURCE = REPO / "cpp" / "include" / "nanopq_cpp"
EXTENSION = re.compile(r"^nanopq_cpp/_core(\.[^/]+)?\.(so|pyd)$")
# Files pip adds to dist-info when installing; they are not in the wheel.
INSTALLER_FILES = {"INSTALLER", "REQUESTED", "direct_url.json"}


def expected_package_files() -> Set[str]:
    """Everything under nanopq_cpp/ but the extension, from the source tree."""
    if not PACKAGE_SOURCE.is_dir() or not HEADER_SOURCE.is_dir():
        pytest.skip(f"the nanopq_cpp source tree is not at {REPO}")
    files = {f"nanopq_cpp/{path.name}" for path in PACKAGE_SOURCE.glob("*.py")}
    files |= {"nanopq_cpp/py.typed", "nanopq_cpp/_core.pyi"}  # PEP 561 marker; the stub of the extension
    files |= {
        f"nanopq_cpp/include/nanopq_cpp/{path.relative_to(HEADER_SOURCE).as_posix()}"
        for path in HEADER_SOURCE.rglob("*.hpp")
    }
    files |= {
        f"nanopq_cpp/share/cmake/nanopq_cpp/{name}"
        for name in ("nanopq_cppConfig.cmake", "nanopq_cppConfigVersion.cmake", "nanopq_cppTargets.cmake")
    }
    return files


def check_file_list(names: Iterable[str], dist_info_extras: Set[str]) -> None:
    names = {name for name in names if "__pycache__" not in name}
    dist_info = {name for name in names if re.match(r"^nanopq_cpp-[^/]+\.dist-info/", name)}
    package = names - dist_info
    extensions = {name for name in package if EXTENSION.match(name)}
    assert len(extensions) == 1, f"expected one compiled extension, found {sorted(extensions)}"
    assert package - extensions == expected_package_files()
    dist_info_files = {name.split("/", 1)[1] for name in dist_info}
    assert dist_info_files - dist_info_extras == {"METADATA", "WHEEL", "RECORD", "licenses/LICENSE"}


def test_the_installed_distribution_is_the_wheel_it_should_be():
    try:
        distribution = metadata.distribution("nanopq_cpp")
    except metadata.PackageNotFoundError:
        pytest.skip("nanopq_cpp is not installed as a distribution")
    direct_url = json.loads(distribution.read_text("direct_url.json") or "{}")
    if direct_url.get("dir_info", {}).get("editable", False):
        pytest.skip("an editable install does not install the wheel's files; see the slow test below")
    check_file_list((path.as_posix() for path in distribution.files or []), INSTALLER_FILES)


@pytest.mark.slow
def test_a_wheel_built_from_the_source_tree(tmp_path):
    for module in ("scikit_build_core", "pybind11"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed: pip wheel --no-build-isolation needs it")
    if shutil.which("cmake") is None:
        pytest.skip("cmake is not installed")
    expected_package_files()  # skips early without a source tree
    # A copy, so the build neither uses nor disturbs the tree's own build/ dir.
    source = tmp_path / "source"
    shutil.copytree(
        REPO,
        source,
        ignore=shutil.ignore_patterns(
            ".git",
            "build",
            "build-*",
            "dist",
            ".venv*",
            "__pycache__",
            ".pytest_cache",
            ".hypothesis",
            "*.so",
            "*.pyd",
        ),
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            ".",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path / "dist"),
        ],
        cwd=source,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, f"building the wheel failed:\n{result.stdout}\n{result.stderr}"
    (wheel,) = (tmp_path / "dist").glob("nanopq_cpp-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        check_file_list(archive.namelist(), set())
