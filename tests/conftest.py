"""Shared data and reference builders for the tests.

The reference is nanopq 0.2.2 itself: we hand it the same codewords and compare.
"""

from __future__ import annotations

import os

import nanopq_cpp
import numpy as np
import pytest


def correlated_clusters(n: int, dim: int, seed: int, n_clusters: int = 32) -> np.ndarray:
    """Gaussian clusters with decaying variance, rotated: dimensions are correlated."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(n_clusters, dim)) * 2.0
    scales = np.linspace(3.0, 0.2, dim)
    mixing = np.linalg.qr(rng.normal(size=(dim, dim)))[0]
    labels = rng.integers(n_clusters, size=n)
    return ((centers[labels] + rng.normal(size=(n, dim)) * scales) @ mixing).astype(np.float32)


@pytest.fixture
def restore_level():
    """Puts back the SIMD level a test changes."""
    before = nanopq_cpp.get_simd_level()
    yield
    nanopq_cpp.set_simd_level(before)


@pytest.fixture(scope="session")
def tutorial_data():
    """The data of nanopq's tutorial: uniform 12-dim vectors."""
    rng = np.random.default_rng(0)
    X = rng.random((10000, 12), dtype=np.float32)
    Xt = rng.random((2000, 12), dtype=np.float32)
    query = rng.random((12,), dtype=np.float32)
    return X, Xt, query


@pytest.fixture(scope="session")
def correlated_data():
    X = correlated_clusters(6000, 32, seed=1)
    return X[4000:], X[:4000]


def reference_pq(pq: nanopq_cpp.PQ):
    """A nanopq.PQ holding the same codewords as `pq`."""
    import nanopq

    reference = nanopq.PQ(M=pq.M, Ks=pq.Ks, metric=pq.metric, verbose=False)
    reference.Ds = pq.Ds
    reference.codewords = pq.codewords.copy()
    return reference


def random_pq(M: int, Ks: int, Ds: int, metric: str = "l2", seed: int = 0) -> nanopq_cpp.PQ:
    """A PQ with random codewords set by hand, the way downstream code builds one."""
    rng = np.random.default_rng(seed)
    pq = nanopq_cpp.PQ(M=M, Ks=Ks, metric=metric, verbose=False)
    pq.Ds = Ds
    pq.codewords = rng.normal(size=(M, Ks, Ds)).astype(np.float32)
    return pq


@pytest.fixture
def restore_threads():
    before = nanopq_cpp.get_num_threads()
    yield
    nanopq_cpp.set_num_threads(before)


def misaligned(array: np.ndarray) -> np.ndarray:
    """A copy of `array` at an odd address: C-contiguous but not aligned, as
    np.frombuffer at an offset or a buffer unpickled from a network frame gives."""
    buffer = bytearray(array.nbytes + 1)
    copy = np.frombuffer(buffer, dtype=array.dtype, offset=1, count=array.size).reshape(array.shape)
    copy[...] = array
    assert array.itemsize == 1 or not copy.flags.aligned
    return copy


def assert_top_k_equal_up_to_ties(
    ids: np.ndarray, distances: np.ndarray, other_ids: np.ndarray, other_distances: np.ndarray, rtol: float
) -> None:
    """Two top-k results of the same codes from tables that differ in rounding
    only (numpy's BLAS against the core's loop): distances agree to `rtol`,
    and an id differs only where its row ties, to `rtol`, with the row that
    took its place (docs/exactness.md: 'What only numpy reproduces')."""
    scale = float(np.max(np.abs(distances))) if distances.size else 1.0
    tolerance = rtol * max(scale, 1.0)
    np.testing.assert_allclose(distances, other_distances, rtol=0, atol=tolerance)
    for q, j in np.argwhere(ids != other_ids):
        if other_ids[q, j] in ids[q]:
            where = int(np.flatnonzero(ids[q] == other_ids[q, j])[0])
            assert abs(float(distances[q, where]) - float(other_distances[q, j])) <= tolerance, (q, j)
        else:  # dropped at the k-th place for a row at the same distance
            assert abs(float(other_distances[q, j]) - float(distances[q, -1])) <= tolerance, (q, j)


# A sanitizer's shadow memory and quarantine make RSS meaningless, and its
# reservation of address space leaves no room for an RLIMIT_AS test.
skip_under_asan = pytest.mark.skipif(
    "asan" in os.environ.get("LD_PRELOAD", ""), reason="memory is not measurable under AddressSanitizer"
)
