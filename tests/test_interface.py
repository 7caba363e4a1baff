"""nanopq's interface: arguments, defaults, attributes, chaining, equality, printing."""

from __future__ import annotations

import inspect

import nanopq_cpp
import numpy as np
import pytest
from conftest import random_pq

nanopq = pytest.importorskip("nanopq")


@pytest.mark.parametrize(
    "ours, theirs",
    [
        (nanopq_cpp.PQ.__init__, nanopq.PQ.__init__),
        (nanopq_cpp.PQ.fit, nanopq.PQ.fit),
        (nanopq_cpp.PQ.encode, nanopq.PQ.encode),
        (nanopq_cpp.PQ.decode, nanopq.PQ.decode),
        (nanopq_cpp.PQ.dtable, nanopq.PQ.dtable),
        (nanopq_cpp.OPQ.__init__, nanopq.OPQ.__init__),
        (nanopq_cpp.OPQ.fit, nanopq.OPQ.fit),
        (nanopq_cpp.OPQ.eigenvalue_allocation, nanopq.OPQ.eigenvalue_allocation),
        (nanopq_cpp.OPQ.rotate, nanopq.OPQ.rotate),
        (nanopq_cpp.OPQ.encode, nanopq.OPQ.encode),
        (nanopq_cpp.OPQ.decode, nanopq.OPQ.decode),
        (nanopq_cpp.OPQ.dtable, nanopq.OPQ.dtable),
        (nanopq_cpp.DistanceTable.__init__, nanopq.DistanceTable.__init__),
        (nanopq_cpp.DistanceTable.adist, nanopq.DistanceTable.adist),
        (nanopq_cpp.nanopq_to_faiss, nanopq.nanopq_to_faiss),
        (nanopq_cpp.faiss_to_nanopq, nanopq.faiss_to_nanopq),
    ],
)
def test_same_parameters_and_defaults_as_nanopq(ours, theirs):
    def shape(function):
        return [(p.name, p.default, p.kind) for p in inspect.signature(function).parameters.values()]

    assert shape(ours) == shape(theirs)


def test_public_names_cover_nanopq():
    assert set(nanopq.__all__) <= set(nanopq_cpp.__all__)
    assert isinstance(nanopq_cpp.__version__, str) and nanopq_cpp.__version__.count(".") == 2


@pytest.mark.parametrize(
    "Ks, dtype",
    [
        (1, np.uint8),
        (256, np.uint8),
        (257, np.uint16),
        (2**16, np.uint16),
        (2**16 + 1, np.uint32),
        (2**32, np.uint32),
    ],
)
def test_attributes_after_construction(Ks, dtype):
    pq = nanopq_cpp.PQ(M=4, Ks=Ks, metric="dot", verbose=False)
    reference = nanopq.PQ(M=4, Ks=Ks, metric="dot", verbose=False)
    for name in ("M", "Ks", "metric", "verbose", "code_dtype", "codewords", "Ds"):
        assert getattr(pq, name) == getattr(reference, name), name
    assert pq.code_dtype is dtype


def test_defaults_and_chaining(tutorial_data):
    _, Xt, _ = tutorial_data
    pq = nanopq_cpp.PQ(M=4)
    assert (pq.Ks, pq.metric, pq.verbose) == (256, "l2", True)
    pq.verbose = False
    assert pq.fit(Xt) is pq
    assert pq.Ds == 3 and isinstance(pq.Ds, int)
    opq = nanopq_cpp.OPQ(M=4, verbose=False)
    assert opq.fit(Xt, rotation_iter=2, pq_iter=2) is opq
    for name in ("M", "Ks", "verbose", "code_dtype", "codewords", "Ds"):
        assert getattr(opq, name) is getattr(opq.pq, name) or np.array_equal(
            getattr(opq, name), getattr(opq.pq, name)
        )
    with pytest.raises(AttributeError):
        opq.M = 3  # read-only, as in nanopq
    opq.verbose = True
    assert opq.pq.verbose is True


def test_verbose_prints_banner_progress_and_errors(capsys, tutorial_data):
    _, Xt, _ = tutorial_data
    pq = nanopq_cpp.PQ(M=4, Ks=16, metric="dot", verbose=True)
    banner = capsys.readouterr().out
    # nanopq 0.2.2 swaps metric and code_dtype in this line; we print them in place.
    assert "M: 4, Ks: 16, metric: dot, code_dtype: uint8" in banner
    pq.fit(Xt, iter=2, seed=7)
    out = capsys.readouterr().out
    assert "iter: 2, seed: 7" in out
    assert sorted(line for line in out.splitlines() if line.startswith("Training the subspace")) == [
        f"Training the subspace: {m} / 4" for m in range(4)
    ]
    opq = nanopq_cpp.OPQ(M=4, Ks=16, verbose=True)
    opq.fit(Xt, rotation_iter=2, pq_iter=1)
    out = capsys.readouterr().out
    assert "OPQ rotation training: 0 / 2" in out and "OPQ rotation training: 1 / 2" in out
    assert out.count("==== Reconstruction error:") == 2


def test_quiet_when_not_verbose(capsys, tutorial_data):
    X, Xt, query = tutorial_data
    pq = nanopq_cpp.PQ(M=4, Ks=16, verbose=False).fit(Xt, iter=2)
    pq.dtable(query).adist(pq.encode(X))
    assert capsys.readouterr().out == ""


def test_equality_as_nanopq_defines_it(tutorial_data):
    _, Xt, _ = tutorial_data
    a = nanopq_cpp.PQ(M=4, Ks=16, verbose=False).fit(Xt, iter=3, seed=1)
    b = nanopq_cpp.PQ(M=4, Ks=16, verbose=False).fit(Xt, iter=3, seed=1)
    assert a == b
    b.verbose = True  # nanopq compares verbose too
    assert a != b
    b.verbose = False
    b.codewords = b.codewords + 1
    assert a != b
    assert a != "PQ" and nanopq_cpp.PQ(M=4, verbose=False) == nanopq_cpp.PQ(M=4, verbose=False)
    o1 = nanopq_cpp.OPQ(M=4, Ks=16, verbose=False).fit(Xt, rotation_iter=2, pq_iter=2, seed=1)
    o2 = nanopq_cpp.OPQ(M=4, Ks=16, verbose=False).fit(Xt, rotation_iter=2, pq_iter=2, seed=1)
    assert o1 == o2 and o1 != a
    o2.R = o2.R * 2
    assert o1 != o2


def test_quantizer_assembled_by_attribute_assignment():
    """Downstream code (and faiss conversion) builds quantizers by setting attributes."""
    source = random_pq(2, 16, 4, seed=1)
    pq = nanopq_cpp.PQ(M=2, Ks=16, verbose=False)
    pq.Ds = 4
    pq.codewords = source.codewords.astype(np.float64)  # other float dtypes are converted
    X = np.random.default_rng(0).normal(size=(50, 8)).astype(np.float32)
    np.testing.assert_array_equal(pq.encode(X), source.encode(X))
    opq = nanopq_cpp.OPQ(M=2, Ks=16, verbose=False)
    opq.pq.Ds, opq.pq.codewords = 4, source.codewords
    opq.R = np.eye(8, dtype=np.float32)
    np.testing.assert_array_equal(opq.encode(X), source.encode(X))
    np.testing.assert_allclose(opq.decode(opq.encode(X)), source.decode(source.encode(X)))


def test_rotate_single_and_many(correlated_data):
    X, Xt = correlated_data
    opq = nanopq_cpp.OPQ(M=4, Ks=16, verbose=False).fit(Xt, rotation_iter=2, pq_iter=2)
    one = opq.rotate(X[0])
    many = opq.rotate(X[:3])
    assert one.shape == (32,) and many.shape == (3, 32) and one.dtype == np.float32
    # One vector goes through BLAS's matrix-vector product, a batch through its
    # matrix-matrix one, which may round differently (numpy 1.21's OpenBLAS
    # does, by 1.4e-6 on an entry of 0.3): a relative bound alone is too tight.
    np.testing.assert_allclose(many[0], one, rtol=1e-6, atol=1e-5)
    np.testing.assert_allclose(many, X[:3] @ opq.R, rtol=1e-6)


def test_non_contiguous_and_fortran_input_give_same_results(tutorial_data):
    X, Xt, _ = tutorial_data
    pq = nanopq_cpp.PQ(M=4, Ks=16, verbose=False).fit(Xt, iter=3)
    expected = pq.encode(X[:100])
    np.testing.assert_array_equal(pq.encode(np.asfortranarray(X[:100])), expected)
    wide = np.repeat(X[:100], 2, axis=1)[:, ::2]  # strided view of the same values
    np.testing.assert_array_equal(pq.encode(wide), expected)
    codes_view = np.asfortranarray(expected)
    np.testing.assert_array_equal(pq.decode(codes_view), pq.decode(expected))
    query = X[0]
    np.testing.assert_allclose(pq.dtable(query).adist(codes_view), pq.dtable(query).adist(expected))


def test_empty_inputs(tutorial_data):
    _, Xt, query = tutorial_data
    pq = nanopq_cpp.PQ(M=4, Ks=16, verbose=False).fit(Xt, iter=2)
    codes = pq.encode(np.empty((0, 12), dtype=np.float32))
    assert codes.shape == (0, 4) and codes.dtype == np.uint8
    assert pq.decode(codes).shape == (0, 12)
    distances = pq.dtable(query).adist(codes)
    assert distances.shape == (0,) and distances.dtype == np.float32
