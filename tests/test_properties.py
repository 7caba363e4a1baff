"""Property tests: random M, Ks, Ds, N, metrics and code dtypes against plain
numpy versions of the same operations.

Shapes and parameters come from hypothesis; array contents come from a
numpy generator seeded by hypothesis, which keeps examples fast. Vectors and
codewords hold small integers, so every squared distance and inner product
is exact in float32 and the results must match the references exactly,
ties included (the lowest codeword index, then the lowest row id, wins).
"""

from __future__ import annotations

import nanopq_cpp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nanopq_cpp import CodeError, InputError

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Ks around the uint8/uint16 boundaries as well as small ones.
KS = st.one_of(st.integers(1, 40), st.sampled_from([255, 256, 257, 300, 65536, 65537]))
# Row counts within one block and across the core's blocks (256 rows per
# encoding task, 4096 codes per scan task, threads above ~65536 look-ups).
ROWS = st.one_of(st.integers(0, 300), st.integers(4000, 9000))
CODE_DTYPES = [np.uint8, np.uint16, np.uint32, np.int16, np.int32, np.int64, np.uint64]


@st.composite
def quantizers(draw, metric=st.sampled_from(["l2", "dot"])):  # noqa: B008 (hypothesis's idiom)
    """A PQ with small-integer codewords set by hand, and a seeded generator."""
    M = draw(st.integers(1, 6))
    Ks = draw(KS)
    Ds = draw(st.integers(1, 5 if Ks <= 300 else 2))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    pq = nanopq_cpp.PQ(M=M, Ks=Ks, metric=draw(metric), verbose=False)
    pq.Ds = Ds
    # Few distinct values, so equal distances (ties) are common.
    pq.codewords = rng.integers(-4, 5, size=(M, Ks, Ds)).astype(np.float32)
    return pq, rng


def integer_vectors(rng, n, dim):
    return rng.integers(-6, 7, size=(n, dim)).astype(np.float32)


def random_codes(rng, n, pq, dtype=None):
    codes = rng.integers(pq.Ks, size=(n, pq.M))
    return codes.astype(dtype or pq.code_dtype)


# -- the references: nanopq's operations written plainly in numpy -------------


def reference_encode(codewords, vecs):
    M, _, Ds = codewords.shape
    codes = np.empty((len(vecs), M), np.int64)
    for m in range(M):
        sub = vecs[:, np.newaxis, m * Ds : (m + 1) * Ds].astype(np.float64)
        distances = ((sub - codewords[m].astype(np.float64)) ** 2).sum(-1)  # (N, Ks)
        codes[:, m] = distances.argmin(axis=1)  # the first minimum, as scipy's vq (nanopq's encoder)
    return codes


def reference_decode(codewords, codes):
    M, _, Ds = codewords.shape
    decoded = np.empty((len(codes), M * Ds), np.float32)
    for m in range(M):
        decoded[:, m * Ds : (m + 1) * Ds] = codewords[m][codes[:, m].astype(np.int64)]
    return decoded


def reference_dtable(codewords, query, metric):
    M, _, Ds = codewords.shape
    if metric == "l2":
        # nanopq's formula: a float32 norm, squared. Its root and square make it
        # differ from the sum of squares (2 becomes 1.9999999) on integers too.
        return np.linalg.norm(query.reshape(M, 1, Ds) - codewords, axis=-1) ** 2
    # Small integers: every product and sum is exact in any order.
    return (query.reshape(M, 1, Ds).astype(np.float64) * codewords).sum(-1)


def reference_adist(table, codes):
    M = table.shape[0]
    return table[np.arange(M), codes.astype(np.int64)].sum(axis=1)


def reference_search(distances, k, metric, subset=None):
    ids = np.arange(len(distances)) if subset is None else np.asarray(subset, np.int64)
    candidate = distances[ids]
    key = candidate if metric == "l2" else -candidate
    order = np.lexsort((ids, key))[:k]
    found_ids = np.full(k, -1, np.int64)
    found = np.full(k, np.inf if metric == "l2" else -np.inf)
    found_ids[: len(order)] = ids[order]
    found[: len(order)] = candidate[order]
    return found_ids, found


# -- properties ---------------------------------------------------------------


@SETTINGS
@given(quantizers(), st.integers(0, 600), st.sampled_from(nanopq_cpp.supported_simd_levels()))
def test_encode_is_the_nearest_codeword_lowest_index_on_ties(pq_and_rng, n, simd_level):
    pq, rng = pq_and_rng
    if pq.Ks > 300:
        n = min(n, 40)  # keeps the (N, Ks) reference small
    vecs = integer_vectors(rng, n, pq.M * pq.Ds)
    nanopq_cpp.set_simd_level(simd_level)
    try:
        codes = pq.encode(vecs)
    finally:
        nanopq_cpp.set_simd_level(None)
    assert codes.dtype == pq.code_dtype and codes.shape == (n, pq.M)
    np.testing.assert_array_equal(codes, reference_encode(pq.codewords, vecs))


@SETTINGS
@given(quantizers(), st.integers(0, 60), st.sampled_from(CODE_DTYPES))
def test_decode_gathers_the_codewords(pq_and_rng, n, dtype):
    pq, rng = pq_and_rng
    codes = random_codes(rng, n, pq)
    decoded = pq.decode(codes)
    assert decoded.dtype == np.float32 and decoded.shape == (n, pq.M * pq.Ds)
    np.testing.assert_array_equal(decoded, reference_decode(pq.codewords, codes))
    # Other integer dtypes go through adist's path; decode wants code_dtype.
    if np.dtype(dtype) != np.dtype(pq.code_dtype) and n:
        with pytest.raises(InputError, match="code_dtype"):
            pq.decode(codes.astype(dtype))


@SETTINGS
@given(quantizers(), st.integers(1, 5))
def test_dtable_is_the_exact_table_for_l2_and_dot(pq_and_rng, n_queries):
    pq, rng = pq_and_rng
    queries = integer_vectors(rng, n_queries, pq.M * pq.Ds)
    single = pq.dtable(queries[0])
    assert single.dtable.shape == (pq.M, pq.Ks) and single.metric == pq.metric
    np.testing.assert_array_equal(single.dtable, reference_dtable(pq.codewords, queries[0], pq.metric))
    batch = pq.dtable(queries).dtable
    assert batch.shape == (n_queries, pq.M, pq.Ks)
    for q in range(n_queries):
        np.testing.assert_array_equal(batch[q], reference_dtable(pq.codewords, queries[q], pq.metric))


@SETTINGS
@given(quantizers(), ROWS, st.sampled_from(CODE_DTYPES))
def test_adist_sums_table_entries_for_any_integer_code_dtype(pq_and_rng, n, dtype):
    pq, rng = pq_and_rng
    if pq.Ks > np.iinfo(dtype).max + 1:
        dtype = np.uint32
    codes = random_codes(rng, n, pq, dtype)
    queries = integer_vectors(rng, 2, pq.M * pq.Ds)
    tables = pq.dtable(queries)
    distances = tables.adist(codes)
    assert distances.shape == (2, n) and distances.dtype == np.float32
    for q in range(2):
        np.testing.assert_array_equal(distances[q], reference_adist(tables.dtable[q], codes))
    np.testing.assert_array_equal(pq.dtable(queries[1]).adist(codes), distances[1])


@SETTINGS
@given(
    quantizers(),
    ROWS,
    st.integers(1, 12),
    st.booleans(),
    st.sampled_from([np.uint8, np.uint32, np.int64]),
)
def test_search_is_a_lexsort_by_distance_then_id(pq_and_rng, n, k, use_subset, dtype):
    pq, rng = pq_and_rng
    if pq.Ks > np.iinfo(dtype).max + 1:
        dtype = np.uint32
    codes = random_codes(rng, n, pq, dtype)
    queries = integer_vectors(rng, 3, pq.M * pq.Ds)
    tables = pq.dtable(queries)
    # Duplicates are allowed in a subset: each occurrence is a candidate.
    subset = rng.integers(n, size=rng.integers(0, n + 3)) if use_subset and n else None
    ids, found = tables.search(codes, topk=k, subset=subset)
    assert ids.shape == found.shape == (3, k)
    for q in range(3):
        distances = reference_adist(tables.dtable[q], codes)
        expected_ids, expected = reference_search(distances, k, pq.metric, subset)
        np.testing.assert_array_equal(ids[q], expected_ids)
        np.testing.assert_array_equal(found[q], expected)


@SETTINGS
@given(quantizers(), st.integers(1, 50), st.data())
def test_any_code_out_of_range_is_refused(pq_and_rng, n, data):
    pq, rng = pq_and_rng
    codes = random_codes(rng, n, pq, np.int64)
    row, column = data.draw(st.integers(0, n - 1)), data.draw(st.integers(0, pq.M - 1))
    codes[row, column] = data.draw(st.one_of(st.integers(-(2**40), -1), st.integers(pq.Ks, 2**40)))
    tables = pq.dtable(integer_vectors(rng, 1, pq.M * pq.Ds)[0])
    with pytest.raises(CodeError):
        tables.adist(codes)
    with pytest.raises(CodeError):
        tables.search(codes, topk=2)
    if 0 <= codes[row, column] <= np.iinfo(pq.code_dtype).max:
        with pytest.raises(CodeError, match=rf"codes\[{row}, {column}\] = {codes[row, column]}"):
            pq.decode(codes.astype(pq.code_dtype))


@SETTINGS
@given(st.integers(1, 8), st.integers(1, 24), st.integers(1, 12), st.integers(1, 40))
def test_fit_accepts_exactly_the_shapes_nanopq_accepts(M, D, Ks, N):
    vecs = np.random.default_rng(N * 1000 + D).random((N, D), dtype=np.float32)
    pq = nanopq_cpp.PQ(M=M, Ks=Ks, verbose=False)
    if D % M != 0 or N <= Ks:
        with pytest.raises(InputError, match="dividable by M|should be more than Ks"):
            pq.fit(vecs, iter=1)
        return
    pq.fit(vecs, iter=1)
    assert pq.codewords.shape == (M, Ks, D // M) and pq.Ds == D // M
    assert np.isfinite(pq.codewords).all()
    np.testing.assert_array_equal(pq.encode(vecs), reference_encode(pq.codewords, vecs).astype(pq.code_dtype))


@SETTINGS
@given(quantizers(metric=st.just("l2")), st.integers(1, 300))
def test_encode_on_real_valued_data_picks_a_nearest_codeword(pq_and_rng, n):
    # With non-integer data float32 rounding may flip near-ties, so the
    # property is the distance of the chosen codeword, not its index.
    pq, rng = pq_and_rng
    if pq.Ks > 300:
        n = min(n, 40)
    pq.codewords = rng.normal(size=pq.codewords.shape).astype(np.float32)
    vecs = rng.normal(size=(n, pq.M * pq.Ds)).astype(np.float32)
    codes = pq.encode(vecs).astype(np.int64)
    sub = vecs.reshape(n, pq.M, pq.Ds).astype(np.float64)
    chosen = pq.codewords[np.arange(pq.M), codes].astype(np.float64)  # (n, M, Ds)
    chosen_distance = ((sub - chosen) ** 2).sum(-1)
    best = reference_encode(pq.codewords, vecs)
    best_distance = ((sub - pq.codewords[np.arange(pq.M), best].astype(np.float64)) ** 2).sum(-1)
    assert chosen_distance.shape == (n, pq.M)
    np.testing.assert_allclose(chosen_distance, best_distance, rtol=1e-5, atol=1e-5)
