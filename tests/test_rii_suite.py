"""rii 0.2.12's own test suite (tests/test_rii.py of its sdist on PyPI), run
against nanopq_cpp with only its imports swapped: ``from .context import
rii`` (the package under test) becomes ``import nanopq_cpp as rii``, and
``import nanopq`` becomes ``import nanopq_cpp as nanopq``. Every test must pass.
"""

from __future__ import annotations

from sdist_suite import run_suite, sdist_tests

SWAPS = {
    "from .context import rii\n": "import nanopq_cpp as rii\n",
    "import nanopq\n": "import nanopq_cpp as nanopq\n",
}


def test_every_test_of_rii_passes_with_nanopq_cpp(tmp_path):
    tests = sdist_tests("rii==0.2.12", tmp_path)
    outcomes = run_suite(tests, SWAPS, tmp_path / "suite")
    assert len(outcomes) == 12, outcomes  # rii 0.2.12 has 12 tests
    failing = sorted(name for name, outcome in outcomes.items() if outcome != "passed")
    assert not failing, f"rii's tests that do not pass with nanopq_cpp: {failing}"
