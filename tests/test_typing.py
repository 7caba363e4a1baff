"""Typing: the stub of the compiled core is pybind11-stubgen's output for the
module as built (regenerate with ``pybind11-stubgen nanopq_cpp._core -o python``
after changing a binding), and the examples, the stub and the package
type-check under ``mypy --strict``.
"""

from __future__ import annotations

import ast
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from typing import List

import nanopq_cpp
import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"


def stub_path() -> Path:
    """The stub next to the imported package: this also checks that it was installed."""
    for directory in nanopq_cpp.__path__:
        candidate = Path(directory) / "_core.pyi"
        if candidate.is_file():
            return candidate
    raise AssertionError(f"_core.pyi is not installed with nanopq_cpp (searched {list(nanopq_cpp.__path__)})")


def test_the_stub_is_installed_next_to_the_package():
    assert "def search(" in stub_path().read_text(encoding="utf-8")


def test_the_stub_is_what_pybind11_stubgen_generates(tmp_path):
    """Every name, parameter, default and type the module declares, as its
    signatures (with the bindings' type hints) say: the stub cannot go stale."""
    generator = shutil.which("pybind11-stubgen")
    if generator is None:
        pytest.skip("pybind11-stubgen is not installed (the test extra installs it)")
    done = subprocess.run(
        [generator, "nanopq_cpp._core", "-o", str(tmp_path)], capture_output=True, text=True, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    generated = (tmp_path / "nanopq_cpp" / "_core.pyi").read_text(encoding="utf-8")
    assert stub_path().read_text(encoding="utf-8") == generated, (
        "python/nanopq_cpp/_core.pyi is stale: run `pybind11-stubgen nanopq_cpp._core -o python`"
    )


# -- mypy ---------------------------------------------------------------------------


def examples_whose_imports_resolve() -> List[Path]:
    """The example scripts whose top-level imports are installed here.

    An example that needs an optional package (dask for dask_encode.py) is left
    out where it is missing, rather than failing with mypy's import error.
    """
    if not EXAMPLES.is_dir():
        pytest.skip(f"the examples are not at {EXAMPLES}")
    scripts = []
    for script in sorted(EXAMPLES.glob("*.py")):
        modules = set()
        for node in ast.parse(script.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.Import):
                modules |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
        if all(importlib.util.find_spec(module) is not None for module in modules):
            scripts.append(script)
    return scripts


def run_mypy_strict(tmp_path, *paths):
    """mypy --strict on `paths` with pyproject.toml's [tool.mypy] (strict, and
    dask's unannotated calls allowed), and a fresh cache in tmp_path: none is
    read from or left in the tree."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(REPO / "pyproject.toml"),
            "--strict",
            "--no-error-summary",
            "--cache-dir",
            str(tmp_path / "cache"),
            *map(str, paths),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )


def test_examples_and_the_stub_pass_mypy_strict(tmp_path):
    pytest.importorskip("mypy", reason="mypy is not installed (pip install mypy, or the 'dev' extra)")
    scripts = examples_whose_imports_resolve()
    assert scripts, "no example could be checked"
    # The stub is checked as a file of its own: passed where it is installed
    # (site-packages, for a wheel), mypy would refuse it or skip its errors.
    stub_copy = tmp_path / "stub" / "_core.pyi"
    stub_copy.parent.mkdir()
    stub_copy.write_text(stub_path().read_text(encoding="utf-8"), encoding="utf-8")
    result = run_mypy_strict(tmp_path, *scripts, stub_copy)
    assert result.returncode == 0, f"mypy --strict found errors:\n{result.stdout}\n{result.stderr}"


def test_package_source_passes_mypy_strict(tmp_path):
    pytest.importorskip("mypy", reason="mypy is not installed (pip install mypy, or the 'dev' extra)")
    source = REPO / "python" / "nanopq_cpp"
    if not source.is_dir():
        pytest.skip("the package's source tree is not beside the tests")
    result = run_mypy_strict(tmp_path, source)
    assert result.returncode == 0, f"mypy --strict, package:\n{result.stdout}\n{result.stderr}"
