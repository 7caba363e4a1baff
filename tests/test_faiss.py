"""Conversion to and from faiss-cpu as installed."""

from __future__ import annotations

import nanopq_cpp
import numpy as np
import pytest
from conftest import correlated_clusters

faiss = pytest.importorskip("faiss")

DATA = correlated_clusters(4000, 32, seed=7)
Xt, Xb, queries = DATA[:2000], DATA[2000:3900], DATA[3900:]


@pytest.mark.parametrize("metric", ["l2", "dot"])
def test_pq_to_faiss_same_codes_and_neighbours(metric):
    pq = nanopq_cpp.PQ(M=4, Ks=256, metric=metric, verbose=False).fit(Xt, iter=10)
    index = nanopq_cpp.nanopq_to_faiss(pq)
    assert isinstance(index, faiss.IndexPQ) and index.is_trained
    np.testing.assert_array_equal(index.pq.compute_codes(Xb), pq.encode(Xb))
    index.add(Xb)
    _, faiss_ids = index.search(queries, 5)
    ids, _ = pq.dtable(queries).search(pq.encode(Xb), topk=5)
    assert np.mean(faiss_ids == ids) > 0.98  # float ties aside


def test_faiss_to_pq_round_trip():
    index = faiss.IndexPQ(32, 4, 8)
    index.train(Xt)
    index.add(Xb)
    pq, codes = nanopq_cpp.faiss_to_nanopq(index)
    assert type(pq) is nanopq_cpp.PQ and (pq.M, pq.Ks, pq.Ds, pq.metric) == (4, 256, 8, "l2")
    assert codes.shape == (len(Xb), 4) and codes.dtype == np.uint8
    np.testing.assert_array_equal(codes, pq.encode(Xb))
    back = nanopq_cpp.nanopq_to_faiss(pq)
    np.testing.assert_array_equal(
        faiss.vector_to_array(back.pq.centroids), faiss.vector_to_array(index.pq.centroids)
    )
    again, _ = nanopq_cpp.faiss_to_nanopq(back)
    assert again == pq


def test_faiss_nbits_other_than_8():
    index = faiss.IndexPQ(32, 4, 4)  # Ks=16, codes packed two per byte
    index.train(Xt)
    index.add(Xb)
    pq, codes = nanopq_cpp.faiss_to_nanopq(index)
    assert pq.Ks == 16 and codes.dtype == np.uint8
    np.testing.assert_array_equal(codes, pq.encode(Xb))


def test_opq_round_trip_through_faiss():
    opq = nanopq_cpp.OPQ(M=4, Ks=256, verbose=False).fit(Xt, rotation_iter=3, pq_iter=5)
    index = nanopq_cpp.nanopq_to_faiss(opq)
    assert isinstance(index, faiss.IndexPreTransform)
    index.add(Xb)
    back, codes = nanopq_cpp.faiss_to_nanopq(index)
    assert type(back) is nanopq_cpp.OPQ
    np.testing.assert_allclose(back.R, opq.R)
    assert np.mean(codes == opq.encode(Xb)) > 0.999
    _, faiss_ids = index.search(queries, 5)
    ids, _ = opq.dtable(queries).search(opq.encode(Xb), topk=5)
    assert np.mean(faiss_ids == ids) > 0.98


def test_faiss_trained_opq_to_nanopq():
    opq_matrix = faiss.OPQMatrix(32, 4)  # recent faiss: positional (d, M)
    index = faiss.IndexPreTransform(opq_matrix, faiss.IndexPQ(32, 4, 8))
    index.train(Xt)
    index.add(Xb)
    opq, codes = nanopq_cpp.faiss_to_nanopq(index)
    assert type(opq) is nanopq_cpp.OPQ and opq.R.shape == (32, 32)
    assert np.mean(opq.encode(Xb) == codes) > 0.999
    reconstructed = index.reconstruct_n(0, 10)
    np.testing.assert_allclose(opq.decode(codes[:10]), reconstructed, rtol=1e-4, atol=1e-4)


def test_conversion_errors():
    with pytest.raises(nanopq_cpp.DTypeError, match="must be a faiss.IndexPQ"):
        nanopq_cpp.faiss_to_nanopq(faiss.IndexFlatL2(8))
    with pytest.raises(nanopq_cpp.NotFittedError):
        nanopq_cpp.faiss_to_nanopq(faiss.IndexPQ(32, 4, 8))
    with pytest.raises(nanopq_cpp.NotFittedError):
        nanopq_cpp.nanopq_to_faiss(nanopq_cpp.PQ(M=4, verbose=False))
    pq = nanopq_cpp.PQ(M=4, Ks=100, verbose=False).fit(Xt, iter=1)
    with pytest.raises(nanopq_cpp.InputError, match="power of two"):
        nanopq_cpp.nanopq_to_faiss(pq)
