"""Every SIMD level this CPU supports gives the scalar reference's results."""

from __future__ import annotations

import os
import subprocess
import sys

import nanopq_cpp
import numpy as np
import pytest
from conftest import correlated_clusters, random_pq

LEVELS = nanopq_cpp.supported_simd_levels()


def run_everything(level: str, Ks: int, Ds: int):
    """The Python calls whose kernels differ by level (impl/simd/dispatch.hpp's table):
    encode, l2 tables, top-k search and k-means. adist's entries are the
    portable loop at every level, and decode has no kernel; the C++ test
    tests/cpp/test_kernels.cpp checks every table entry directly."""
    nanopq_cpp.set_simd_level(level)
    assert nanopq_cpp.get_simd_level() == level
    rng = np.random.default_rng(Ks + Ds)
    pq = random_pq(3, Ks, Ds, seed=Ks)
    X = rng.normal(size=(1001, 3 * Ds)).astype(np.float32)  # odd count: exercises the tails
    codes = pq.encode(X)
    table = pq.dtable(X[:4])
    dot_pq = random_pq(3, Ks, Ds, metric="dot", seed=Ks)
    trained = nanopq_cpp.PQ(M=3, Ks=min(Ks, 64), verbose=False).fit(
        correlated_clusters(2000, 3 * Ds, seed=1), iter=4, seed=2
    )
    return {
        "codes": codes,
        "tables": table.dtable,
        "search": table.search(codes, topk=5),
        "dot search": dot_pq.dtable(X[:4]).search(codes, topk=7),
        "codewords": trained.codewords,
    }


@pytest.mark.parametrize("level", [level for level in LEVELS if level != "scalar"])
@pytest.mark.parametrize("Ks, Ds", [(256, 8), (16, 4), (37, 3), (300, 16), (5, 1), (64, 12)])
def test_level_matches_scalar(level, Ks, Ds, restore_level):
    reference = run_everything("scalar", Ks, Ds)
    result = run_everything(level, Ks, Ds)
    np.testing.assert_array_equal(result["codes"], reference["codes"])  # no near-ties in random data
    assert np.array_equal(result["tables"].view(np.uint32), reference["tables"].view(np.uint32))
    for search in ("search", "dot search"):
        np.testing.assert_array_equal(result[search][0], reference[search][0])
        np.testing.assert_array_equal(result[search][1], reference[search][1])
    # k-means may use FMA at one level and not another: same result to rounding.
    np.testing.assert_allclose(result["codewords"], reference["codewords"], rtol=1e-4, atol=1e-4)


def test_levels_and_errors(restore_level):
    assert LEVELS[0] == "scalar" and set(LEVELS) <= {"scalar", "avx2", "avx512", "neon"}
    assert nanopq_cpp.get_simd_level() in LEVELS
    with pytest.raises(nanopq_cpp.InputError, match="level must be one of"):
        nanopq_cpp.set_simd_level("sse9")
    unsupported = [level for level in ("avx2", "avx512", "neon") if level not in LEVELS]
    for level in unsupported:
        with pytest.raises(nanopq_cpp.InputError, match="not supported here"):
            nanopq_cpp.set_simd_level(level)
    nanopq_cpp.set_simd_level(None)
    assert nanopq_cpp.get_simd_level() in LEVELS


def test_environment_variable_selects_level():
    for level in LEVELS:
        out = subprocess.run(
            [sys.executable, "-c", "import nanopq_cpp; print(nanopq_cpp.get_simd_level())"],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "NANOPQ_CPP_SIMD": level},
        ).stdout.strip()
        assert out == level


def test_show_config(capsys):
    nanopq_cpp.show_config()
    out = capsys.readouterr().out
    assert "simd level" in out and nanopq_cpp.__version__ in out
