"""Same codewords (and R), same bits as nanopq 0.2.2.

Code written for nanopq compares floats with ``==`` (nanopq's own test suite
does), so distance tables and distances must be nanopq's to the last bit, not
merely close: compared here as raw bit patterns, for every summation regime of
numpy's pairwise sum (fewer than 8 terms, 8 to 128, recursive halves beyond).
See docs/exactness.md for what each computation is.
"""

from __future__ import annotations

import nanopq_cpp
import numpy as np
import pytest
from conftest import random_pq, reference_pq

nanopq = pytest.importorskip("nanopq")

# (M, Ds): M covers the regimes of the adist sum over subspaces (1, 2, 7: in
# order; 8, 9, 16, 64: eight partial sums and a tail; 130, 300: recursive
# halves), and Ds those of the l2 table's sum over dimensions (200: recursive).
SHAPES = [(1, 200), (2, 17), (7, 3), (8, 8), (9, 12), (16, 4), (64, 2), (130, 1), (300, 3)]
KS_VALUES = [10, 256, 300]


def bits(array: np.ndarray) -> np.ndarray:
    """The float32 bit patterns: equal bits, not just equal values (which would let -0.0 == 0.0)."""
    assert array.dtype == np.float32
    return np.ascontiguousarray(array).view(np.uint32)


def assert_same_bits(ours: np.ndarray, theirs: np.ndarray) -> None:
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype == np.float32
    differing = np.count_nonzero(bits(ours) != bits(theirs))
    assert differing == 0, f"{differing} of {ours.size} values differ from nanopq's"


def scaled_quantizer(M: int, Ks: int, Ds: int, metric: str, seed: int) -> nanopq_cpp.PQ:
    """Codewords with per-subspace scales, so sums mix magnitudes and round often."""
    pq = random_pq(M, Ks, Ds, metric=metric, seed=seed)
    scales = np.random.default_rng(seed).uniform(0.01, 10.0, size=(M, 1, 1)).astype(np.float32)
    pq.codewords = (pq.codewords * scales).astype(np.float32)
    return pq


def random_codes(pq: nanopq_cpp.PQ, n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, pq.Ks, size=(n, pq.M)).astype(pq.code_dtype)


@pytest.mark.parametrize("metric", ["l2", "dot"])
@pytest.mark.parametrize("Ks", KS_VALUES)
@pytest.mark.parametrize("M, Ds", SHAPES)
def test_pq_tables_and_distances_are_nanopqs_bits(M, Ds, Ks, metric):
    pq = scaled_quantizer(M, Ks, Ds, metric, seed=M * Ks + Ds)
    reference = reference_pq(pq)
    rng = np.random.default_rng(Ks)
    queries = (rng.normal(size=(3, M * Ds)) * 3).astype(np.float32)
    codes = random_codes(pq, 400, seed=M)
    assert codes.dtype == (np.uint8 if Ks <= 256 else np.uint16)

    batch = pq.dtable(queries)
    for row, query in enumerate(queries):
        table, reference_table = pq.dtable(query), reference.dtable(query)
        assert_same_bits(table.dtable, reference_table.dtable)
        assert_same_bits(table.adist(codes), reference_table.adist(codes))
        # The batched paths give the one-query numbers.
        assert_same_bits(batch.dtable[row], table.dtable)
        assert_same_bits(batch.adist(codes)[row], table.adist(codes))
        # A table built elsewhere (here by nanopq) is summed as nanopq sums it.
        assert_same_bits(
            nanopq_cpp.DistanceTable(reference_table.dtable, metric).adist(codes),
            reference_table.adist(codes),
        )


@pytest.mark.parametrize("metric", ["l2", "dot"])
@pytest.mark.parametrize("M, Ds", [(1, 200), (8, 8), (9, 12), (130, 1)])
def test_opq_tables_and_distances_are_nanopqs_bits(M, Ds, metric):
    rng = np.random.default_rng(M + Ds)
    D = M * Ds
    opq = nanopq_cpp.OPQ(M=M, Ks=256, metric=metric, verbose=False)
    opq.pq = scaled_quantizer(M, 256, Ds, metric, seed=D)
    opq.R = np.linalg.qr(rng.normal(size=(D, D)))[0].astype(np.float32)
    reference = nanopq.OPQ(M=M, Ks=256, verbose=False)
    reference.pq = reference_pq(opq.pq)
    reference.R = opq.R.copy()
    queries = rng.normal(size=(3, D)).astype(np.float32)
    codes = random_codes(opq.pq, 300, seed=D)

    assert_same_bits(opq.rotate(queries[0]), reference.rotate(queries[0]))
    assert_same_bits(opq.rotate(queries[:1]), reference.rotate(queries[:1]))
    assert_same_bits(opq.rotate(queries), reference.rotate(queries))
    batch = opq.dtable(queries)
    for row, query in enumerate(queries):
        table, reference_table = opq.dtable(query), reference.dtable(query)
        assert_same_bits(table.dtable, reference_table.dtable)
        assert_same_bits(table.adist(codes), reference_table.adist(codes))
        assert_same_bits(batch.dtable[row], table.dtable)
    vectors = rng.normal(size=(500, D)).astype(np.float32)
    np.testing.assert_array_equal(opq.encode(vectors), reference.encode(vectors))
    assert_same_bits(opq.decode(codes), reference.decode(codes))


@pytest.mark.parametrize("metric", ["l2", "dot"])
@pytest.mark.parametrize("M", [4, 16, 64, 130])
def test_search_returns_the_adist_bits(M, metric):
    """top-k distances are the adist values of the returned rows, to the bit."""
    pq = scaled_quantizer(M, 256, 2, metric, seed=M)
    codes = random_codes(pq, 5000, seed=1)
    queries = np.random.default_rng(2).normal(size=(4, M * 2)).astype(np.float32)
    tables = pq.dtable(queries)
    ids, distances = tables.search(codes, topk=20)
    all_distances = tables.adist(codes)
    for row in range(len(queries)):
        assert_same_bits(distances[row], all_distances[row][ids[row]])


@pytest.mark.parametrize("metric", ["l2", "dot"])
def test_nanopqs_own_ip_check_holds(metric, tutorial_data):
    """nanopq's test_pq.py builds the table with np.matmul per subspace and sums
    it with np.sum, then compares with dtable().adist() using ==."""
    X, Xt, query = tutorial_data
    pq = nanopq_cpp.PQ(M=4, Ks=256, metric=metric, verbose=False).fit(Xt, iter=5, seed=1)
    codes = pq.encode(X)
    dtable = np.empty((pq.M, pq.Ks), dtype=np.float32)
    for m in range(pq.M):
        query_sub = query[m * pq.Ds : (m + 1) * pq.Ds]
        if metric == "dot":
            dtable[m, :] = np.matmul(pq.codewords[m], query_sub[None, :].T).reshape(-1)
        else:
            dtable[m, :] = np.linalg.norm(pq.codewords[m] - query_sub, axis=1) ** 2
    by_hand = np.sum(dtable[range(pq.M), codes], axis=1)
    assert (pq.dtable(query).adist(codes) == by_hand).all()


@pytest.mark.parametrize("code_dtype", [np.int64, np.int32, np.uint64, np.int16, np.uint32])
def test_other_integer_codes_sum_to_the_same_bits(code_dtype):
    pq = scaled_quantizer(12, 64, 2, "l2", seed=5)
    reference = reference_pq(pq)
    codes = np.random.default_rng(3).integers(0, 64, size=(300, 12)).astype(code_dtype)
    query = np.random.default_rng(4).normal(size=24).astype(np.float32)
    assert_same_bits(pq.dtable(query).adist(codes), reference.dtable(query).adist(codes))


def test_signed_zeros_sum_as_numpy_sums_them():
    """np.sum starts from +0.0, so a sum of -0.0 entries is +0.0."""
    for M in (3, 8, 130):
        table = np.full((M, 4), -0.0, dtype=np.float32)
        codes = np.zeros((2, M), dtype=np.uint8)
        ours = nanopq_cpp.DistanceTable(table).adist(codes)
        assert_same_bits(ours, nanopq.DistanceTable(table).adist(codes))


@pytest.mark.parametrize("Ds", [1, 2, 3, 4, 8, 13, 64])
def test_the_cores_own_dot_table_is_within_the_documented_bound(Ds):
    """Native callers get the core's dot tables (products rounded, summed in
    order), which stay within the rounding of both sums of numpy's BLAS,
    whichever kernel it runs: FMA kernels (OpenBLAS's Haswell and SkylakeX)
    round differently from plain ones even for Ds = 2 (docs/exactness.md)."""
    pq = scaled_quantizer(4, 256, Ds, "dot", seed=Ds)
    query = np.random.default_rng(Ds).normal(size=4 * Ds).astype(np.float32)
    ours = nanopq_cpp._core.distance_tables(query[np.newaxis], pq.codewords, "dot")[0]
    numpy_table = pq.dtable(query).dtable
    magnitudes = np.abs(pq.codewords.astype(np.float64) * query.reshape(4, 1, Ds)).sum(-1)
    assert np.all(np.abs(ours.astype(np.float64) - numpy_table) <= 2 * Ds * 2.0**-24 * magnitudes)
