"""A PyPI project's own test files, run against nanopq_cpp: downloaded from
its sdist, with the lines that import the project swapped for nanopq_cpp."""

from __future__ import annotations

import subprocess
import sys
import tarfile
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Dict

import pytest


def sdist_tests(requirement: str, folder: Path) -> Path:
    """The tests/ folder of `requirement`'s sdist (e.g. 'rii==0.2.12'), under `folder`."""
    download = folder / "download"
    name = requirement.split("==")[0]
    # Only this project from source: its build requirements (for the
    # metadata pip prepares) come as wheels, in seconds.
    completed = subprocess.run(
        [sys.executable, "-m", "pip", "download", requirement, "--no-binary", name, "--no-deps"]
        + ["-d", str(download)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    archives = list(download.glob(f"{name}-*.tar.gz"))
    if completed.returncode != 0 or not archives:
        pytest.skip(f"could not download {requirement}'s sdist from PyPI: {completed.stderr.strip()[-300:]}")
    target = folder / "sdist"
    with tarfile.open(archives[0]) as archive:
        members = [member for member in archive.getmembers() if "/tests/" in member.name and member.isfile()]
        archive.extractall(target, members=members)  # noqa: S202 (PyPI's own sdist, test files only)
    (tests,) = target.glob(f"{name}-*/tests")
    return tests


def run_suite(tests: Path, swaps: Dict[str, str], folder: Path) -> Dict[str, str]:
    """Runs every tests/test_*.py with each line of `swaps` (which each file
    must hold once) replaced; returns each test's outcome by name."""
    folder.mkdir()
    for source in sorted(tests.glob("test_*.py")):
        text = source.read_text()
        for line, replacement in swaps.items():
            assert text.count(line) == 1, f"{source.name} no longer has one '{line.strip()}'"
            text = text.replace(line, replacement)
        (folder / source.name).write_text(text)
    report = folder / "report.xml"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            f"--junitxml={report}",
            "-o",
            "addopts=",
        ]
        + ["-W", "ignore::DeprecationWarning", str(folder)],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=600,
    )
    outcomes = {}
    for case in ElementTree.parse(report).getroot().iter("testcase"):
        failed = case.find("failure") is not None or case.find("error") is not None
        skipped = case.find("skipped") is not None
        outcome = "failed" if failed else "skipped" if skipped else "passed"
        outcomes[f"{case.get('classname')}.{case.get('name')}"] = outcome
    return outcomes
