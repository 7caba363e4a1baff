"""What the Ray and Spark tests share: importing an engine (or skipping where it
cannot be installed), checking Java, and a watchdog against a hung engine.

Developers without the engines skip these tests (``-m "not scale"`` skips them
even where the engines are installed). CI sets NANOPQ_CPP_SCALE_TESTS=required
(.ci/run), and then an engine that the ``scale`` extra installs on this
platform must be there: a failed install fails the run instead of skipping
its tests.
"""

from __future__ import annotations

import contextlib
import faulthandler
import importlib
import importlib.metadata
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Iterator

import pytest
from packaging.requirements import Requirement

REQUIRED = os.environ.get("NANOPQ_CPP_SCALE_TESTS") == "required"
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def installable_here(distribution: str) -> bool:
    """True if the ``scale`` extra of the installed nanopq_cpp installs `distribution` on this platform.

    The extra leaves an engine out by environment markers where it has no
    wheels (Ray on some platforms and Python versions).
    """
    try:
        requirements = importlib.metadata.requires("nanopq_cpp") or []
    except importlib.metadata.PackageNotFoundError:  # run from a source tree copy: assume it is
        return True
    for text in requirements:
        requirement = Requirement(text)
        if requirement.name == distribution and requirement.marker is not None:
            if requirement.marker.evaluate({"extra": "scale"}):
                return True
    return False


def import_engine(module: str, distribution: str) -> ModuleType:
    """The engine's module; a skip where it is missing, a failure where CI requires it."""
    if REQUIRED and installable_here(distribution):
        return importlib.import_module(module)
    return pytest.importorskip(module, reason=f"needs {distribution} (pip install '.[scale]')")


def import_example(name: str) -> ModuleType:
    """The script examples/<name>.py as a module: the tests run the recipes it shows."""
    path = EXAMPLES / f"{name}.py"
    if not path.is_file():
        pytest.skip(f"the examples are not at {EXAMPLES}")
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # before running it, as an import does: pickling looks it up there
        spec.loader.exec_module(module)
    return sys.modules[name]


def require_java(minimum: int = 17) -> None:
    """Skips (or, where CI requires the engines, fails) unless `java` is Java `minimum` or newer."""
    java = shutil.which("java")
    version = None
    if java:
        # `java -version` writes e.g. 'openjdk version "17.0.15" 2025-04-15' to stderr.
        shown = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60, check=False)
        match = re.search(r'version "(1\.)?(\d+)', shown.stderr + shown.stdout)
        version = int(match.group(2)) if match else None
    if version is None or version < minimum:
        found = f"Java {version}" if version else ("an unreadable java" if java else "no java")
        message = (
            f"Spark needs Java {minimum}+, found {found} (Debian: apt-get install openjdk-17-jre-headless)"
        )
        if REQUIRED:
            pytest.fail(message)
        pytest.skip(message)


@contextlib.contextmanager
def watchdog(seconds: float) -> Iterator[None]:
    """Ends the test process, with every thread's traceback, if the block runs past `seconds`.

    An engine that hangs (a worker that never starts, a lost task) would
    otherwise hold CI until its own time limit; this fails it in minutes.
    """
    faulthandler.dump_traceback_later(seconds, exit=True)
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()
