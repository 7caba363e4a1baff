"""Same codewords, same answers as nanopq 0.2.2: encode, decode, dtable, adist."""

from __future__ import annotations

import nanopq_cpp
import numpy as np
import pytest
from conftest import random_pq, reference_pq

nanopq = pytest.importorskip("nanopq")


@pytest.mark.parametrize("metric", ["l2", "dot"])
@pytest.mark.parametrize(
    "M, Ks, Ds, dtype",
    [
        (4, 256, 3, np.uint8),
        (2, 16, 8, np.uint8),
        (8, 300, 2, np.uint16),
        (2, 2**16 + 1, 2, np.uint32),
        (1, 1, 5, np.uint8),
    ],
)
def test_same_codewords_same_results(M, Ks, Ds, dtype, metric):
    pq = random_pq(M, Ks, Ds, metric=metric, seed=M + Ks)
    reference = reference_pq(pq)
    rng = np.random.default_rng(Ks)
    X = rng.normal(size=(500, M * Ds)).astype(np.float32)
    query = rng.normal(size=(M * Ds,)).astype(np.float32)

    codes = pq.encode(X)
    reference_codes = reference.encode(X)
    assert pq.code_dtype is dtype and codes.dtype == dtype and codes.shape == (500, M)
    # Random float data has no exact ties, so codes must match exactly.
    np.testing.assert_array_equal(codes, reference_codes)

    decoded = pq.decode(codes)
    assert decoded.dtype == np.float32 and decoded.shape == X.shape
    np.testing.assert_array_equal(decoded, reference.decode(reference_codes))

    table = pq.dtable(query)
    reference_table = reference.dtable(query)
    assert isinstance(table, nanopq_cpp.DistanceTable) and table.metric == metric
    assert table.dtable.shape == (M, Ks) and table.dtable.dtype == np.float32
    np.testing.assert_array_equal(table.dtable, reference_table.dtable)

    distances = table.adist(codes)
    assert distances.shape == (500,) and distances.dtype == np.float32
    np.testing.assert_array_equal(distances, reference_table.adist(reference_codes))


def test_tutorial_matches_nanopq(tutorial_data):
    """nanopq's tutorial, run through both libraries with our trained codewords."""
    X, Xt, query = tutorial_data
    pq = nanopq_cpp.PQ(M=4, Ks=256, verbose=False).fit(vecs=Xt, iter=20, seed=123)
    reference = reference_pq(pq)
    X_code = pq.encode(vecs=X)
    np.testing.assert_array_equal(X_code, reference.encode(X))
    dists = pq.dtable(query=query).adist(codes=X_code)
    np.testing.assert_array_equal(dists, reference.dtable(query).adist(X_code))
    assert np.argmin(dists) == np.argmin(reference.dtable(query).adist(X_code))
    np.testing.assert_array_equal(pq.decode(codes=X_code), reference.decode(X_code))


@pytest.mark.parametrize("code_dtype", [np.int64, np.int32, np.uint64, np.int16])
def test_adist_accepts_other_integer_codes_like_nanopq(code_dtype):
    pq = random_pq(4, 64, 2)
    reference = reference_pq(pq)
    codes = np.random.default_rng(3).integers(0, 64, size=(100, 4)).astype(code_dtype)
    query = np.ones(8, dtype=np.float32)
    np.testing.assert_array_equal(pq.dtable(query).adist(codes), reference.dtable(query).adist(codes))


def test_distance_table_built_by_hand():
    table = np.random.default_rng(0).random((3, 10), dtype=np.float32)
    codes = np.random.default_rng(1).integers(0, 10, size=(50, 3)).astype(np.uint8)
    ours = nanopq_cpp.DistanceTable(table).adist(codes)
    theirs = nanopq.DistanceTable(table).adist(codes)
    np.testing.assert_array_equal(ours, theirs)


def test_opq_parity_with_same_rotation_and_codewords(correlated_data):
    X, Xt = correlated_data
    opq = nanopq_cpp.OPQ(M=4, Ks=64, verbose=False).fit(Xt, pq_iter=5, rotation_iter=3, seed=0)
    reference = nanopq.OPQ(M=4, Ks=64, verbose=False)
    reference.pq = reference_pq(opq.pq)
    reference.R = opq.R.copy()
    codes = opq.encode(X)
    reference_codes = reference.encode(X)
    # The rotation is numpy's product in both, on the same rows.
    np.testing.assert_array_equal(codes, reference_codes)
    np.testing.assert_array_equal(opq.decode(codes), reference.decode(codes))
    np.testing.assert_array_equal(opq.rotate(X[0]), reference.rotate(X[0]))
    np.testing.assert_array_equal(opq.rotate(X[:5]), reference.rotate(X[:5]))
    np.testing.assert_array_equal(opq.dtable(X[0]).adist(codes), reference.dtable(X[0]).adist(codes))
