"""nanopq 0.2.2's own test suite, run against nanopq_cpp.

The suite comes from nanopq's sdist on PyPI, with one change to each file:
``import nanopq`` becomes ``import nanopq_cpp as nanopq``, which is what the
drop-in promise says is enough. It compares floats with ``==`` in places.
Every test that passes with nanopq itself on this machine must pass with
nanopq_cpp too (one of them fails with nanopq too under faiss >= 1.8, whose
OPQMatrix no longer takes M= as a keyword).
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Dict

import pytest

pytest.importorskip("nanopq")

SDIST = "nanopq==0.2.2"
IMPORT_LINE = "import nanopq\n"


@pytest.fixture(scope="module")
def nanopq_tests(tmp_path_factory) -> Path:
    """nanopq's tests/ folder, from its sdist (downloaded once per session)."""
    download = tmp_path_factory.mktemp("sdist")
    completed = subprocess.run(
        [sys.executable, "-m", "pip", "download", SDIST, "--no-binary", ":all:", "--no-deps"]
        + ["-d", str(download)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    archives = list(download.glob("nanopq-*.tar.gz"))
    if completed.returncode != 0 or not archives:
        pytest.skip(f"could not download {SDIST}'s sdist from PyPI: {completed.stderr.strip()[-300:]}")
    target = tmp_path_factory.mktemp("nanopq_sdist")
    with tarfile.open(archives[0]) as archive:
        members = [member for member in archive.getmembers() if "/tests/" in member.name and member.isfile()]
        archive.extractall(target, members=members)  # noqa: S202 (PyPI's own sdist, test files only)
    (tests,) = target.glob("nanopq-*/tests")
    return tests


def run_suite(tests: Path, module: str, folder: Path) -> Dict[str, str]:
    """Runs the suite with `import nanopq` bound to `module`; returns each test's outcome."""
    folder.mkdir()
    for source in sorted(tests.glob("test_*.py")):
        text = source.read_text()
        assert text.count(IMPORT_LINE) == 1, f"{source.name} no longer has one '{IMPORT_LINE.strip()}'"
        replacement = "import nanopq_cpp as nanopq\n" if module == "nanopq_cpp" else IMPORT_LINE
        (folder / source.name).write_text(text.replace(IMPORT_LINE, replacement))
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
            "-W",
            "ignore::DeprecationWarning",
            str(folder),
        ],
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


def test_every_test_nanopq_passes_passes_with_nanopq_cpp(nanopq_tests, tmp_path):
    ours = run_suite(nanopq_tests, "nanopq_cpp", tmp_path / "nanopq_cpp")
    theirs = run_suite(nanopq_tests, "nanopq", tmp_path / "nanopq")
    assert len(theirs) >= 16 and set(ours) == set(theirs)
    assert theirs.get("test_pq.TestSuite.test_ip") == "passed"
    should_pass = sorted(name for name, outcome in theirs.items() if outcome == "passed")
    failing = [name for name in should_pass if ours[name] != "passed"]
    assert not failing, f"pass with nanopq, not with nanopq_cpp: {failing}"
