"""Typing: the hand-written stub of the compiled core agrees with the module it
describes, and the examples type-check under ``mypy --strict``.

pybind11 functions have no ``__text_signature__``, so neither ``inspect`` nor
mypy's stubtest can read their parameters; pybind11 does write them on the
first line of each docstring, e.g.
``encode(vecs: numpy.ndarray, codewords: numpy.ndarray, log: object = None) -> numpy.ndarray``,
and that line is what the stub is compared with.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import subprocess
import sys
import types
from pathlib import Path
from typing import Dict, List, NamedTuple, Optional, Set

import nanopq_cpp
import pytest
from nanopq_cpp import _core

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
# What every module has, whoever made it; not part of what _core exports.
MODULE_ATTRIBUTES = set(vars(types.ModuleType("any"))) | {"__file__", "__cached__", "__builtins__"}


class Parameter(NamedTuple):
    name: str
    default: Optional[str]  # the default as source text, None if there is none


def is_exported(name: str) -> bool:
    """Public names, and dunders such as __version__; not the stub's private aliases."""
    return name not in MODULE_ATTRIBUTES and (not name.startswith("_") or name.endswith("__"))


def stub_path() -> Path:
    """The stub next to the imported package: this also checks that it was installed."""
    for directory in nanopq_cpp.__path__:
        candidate = Path(directory) / "_core.pyi"
        if candidate.is_file():
            return candidate
    raise AssertionError(f"_core.pyi is not installed with nanopq_cpp (searched {list(nanopq_cpp.__path__)})")


def stub_module() -> ast.Module:
    return ast.parse(stub_path().read_text(encoding="utf-8"))


def stub_functions() -> Dict[str, List[Parameter]]:
    functions = {}
    for node in stub_module().body:
        if isinstance(node, ast.FunctionDef) and is_exported(node.name):
            arguments = node.args
            # pybind11's functions take every argument by position or keyword.
            assert not (
                arguments.posonlyargs or arguments.kwonlyargs or arguments.vararg or arguments.kwarg
            ), f"{node.name}: the stub declares positional-only, keyword-only or variadic parameters"
            n_required = len(arguments.args) - len(arguments.defaults)
            defaults = [None] * n_required + [ast.unparse(default) for default in arguments.defaults]
            functions[node.name] = [
                Parameter(arg.arg, default) for arg, default in zip(arguments.args, defaults)
            ]
    return functions


def stub_attributes() -> Set[str]:
    return {
        node.target.id
        for node in stub_module().body
        if isinstance(node, ast.AnnAssign)
        and isinstance(node.target, ast.Name)
        and is_exported(node.target.id)
    }


def stub_classes() -> Set[str]:
    body = stub_module().body
    return {node.name for node in body if isinstance(node, ast.ClassDef) and is_exported(node.name)}


def split_top_level(text: str) -> List[str]:
    """Splits at commas outside brackets: annotations such as ``tuple[int, int]`` hold commas."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(text):
        depth += char in "[("
        depth -= char in "])"
        if char == "," and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    if text[start:].strip():
        parts.append(text[start:].strip())
    return parts


def runtime_parameters(name: str) -> List[Parameter]:
    """The parameters pybind11 wrote on the first line of the function's docstring."""
    function = getattr(_core, name)
    first_line = (function.__doc__ or "").splitlines()[0] if function.__doc__ else ""
    match = re.fullmatch(rf"{name}\((?P<parameters>.*)\) -> (?P<returns>.+)", first_line)
    assert match, f"{name}: cannot read pybind11's signature line {first_line!r}"
    # An overloaded function shows only *args, **kwargs here; its overloads
    # would need @overload in the stub and a different comparison.
    assert match["parameters"] != "*args, **kwargs", (
        f"{name} is overloaded; the stub test does not handle that"
    )
    parameters = []
    for text in split_top_level(match["parameters"]):
        declaration, _, default = text.partition(" = ")
        parameters.append(Parameter(declaration.split(":")[0].strip(), default.strip() or None))
    return parameters


def runtime_functions() -> Set[str]:
    return {
        name
        for name, value in vars(_core).items()
        if is_exported(name) and callable(value) and not isinstance(value, type)
    }


def test_the_stub_is_installed_next_to_the_package():
    assert stub_path().read_text(encoding="utf-8").strip()


def test_the_stub_names_exactly_what_the_module_exports():
    runtime = {name for name in vars(_core) if is_exported(name)}
    stub = set(stub_functions()) | stub_attributes() | stub_classes()
    assert runtime - stub == set(), "exported by _core but missing from _core.pyi"
    assert stub - runtime == set(), "in _core.pyi but not exported by _core"


def test_functions_are_functions_and_attributes_are_attributes():
    assert set(stub_functions()) == runtime_functions()
    # The core's classes: the exception its model-file reader raises, and the
    # packed codes it owns.
    assert stub_classes() == {"ModelFileError", "PackedCodes"} and issubclass(
        _core.ModelFileError, ValueError
    )
    assert isinstance(_core.PackedCodes, type)
    exported = {name for name in vars(_core) if is_exported(name)}
    assert stub_attributes() == exported - runtime_functions() - stub_classes()


@pytest.mark.parametrize("name", sorted(runtime_functions()))
def test_each_function_has_the_same_parameters_in_the_same_order(name):
    stub = stub_functions()
    assert name in stub, f"{name} is missing from _core.pyi"
    assert stub[name] == runtime_parameters(name)


def test_the_signature_reader_handles_brackets_and_defaults():
    assert split_top_level("a: tuple[int, int], b: list[str] = None") == [
        "a: tuple[int, int]",
        "b: list[str] = None",
    ]
    assert split_top_level("") == []


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
