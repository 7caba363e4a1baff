"""nanopq 0.2.2's own test suite, run against nanopq_cpp.

The suite comes from nanopq's sdist on PyPI, with one change to each file:
``import nanopq`` becomes ``import nanopq_cpp as nanopq``, which is what the
drop-in promise says is enough. It compares floats with ``==`` in places.
Every test that passes with nanopq itself on this machine must pass with
nanopq_cpp too (one of them fails with nanopq too under faiss >= 1.8, whose
OPQMatrix no longer takes M= as a keyword).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sdist_suite import run_suite, sdist_tests

pytest.importorskip("nanopq")

IMPORT_LINE = "import nanopq\n"


@pytest.fixture(scope="module")
def nanopq_tests(tmp_path_factory) -> Path:
    """nanopq's tests/ folder, from its sdist (downloaded once per module)."""
    return sdist_tests("nanopq==0.2.2", tmp_path_factory.mktemp("nanopq"))


def test_every_test_nanopq_passes_passes_with_nanopq_cpp(nanopq_tests, tmp_path):
    ours = run_suite(nanopq_tests, {IMPORT_LINE: "import nanopq_cpp as nanopq\n"}, tmp_path / "nanopq_cpp")
    theirs = run_suite(nanopq_tests, {IMPORT_LINE: IMPORT_LINE}, tmp_path / "nanopq")
    assert len(theirs) >= 16 and set(ours) == set(theirs)
    assert theirs.get("test_pq.TestSuite.test_ip") == "passed"
    should_pass = sorted(name for name, outcome in theirs.items() if outcome == "passed")
    failing = [name for name in should_pass if ours[name] != "passed"]
    assert not failing, f"pass with nanopq, not with nanopq_cpp: {failing}"
