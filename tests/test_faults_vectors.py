"""Faults in vectors and arguments given to fit, encode, dtable and rotate.

As nanopq, vectors must be float32; anything else is refused with a message
saying how to convert. Layouts numpy allows (strided, Fortran, read-only,
memory-mapped) give the same answers as a plain C-contiguous copy.
"""

from __future__ import annotations

import nanopq_cpp
import numpy as np
import pytest
from conftest import misaligned, random_pq
from nanopq_cpp import DTypeError, InputError

M, KS, DS = 4, 16, 3
D = M * DS
X = np.random.default_rng(0).random((300, D), dtype=np.float32)


@pytest.fixture(scope="module")
def pq():
    return random_pq(M, KS, DS)


@pytest.fixture(scope="module")
def opq():
    opq = nanopq_cpp.OPQ(M=M, Ks=KS, verbose=False)
    opq.pq = random_pq(M, KS, DS)
    opq.R = np.linalg.qr(np.random.default_rng(3).normal(size=(D, D)))[0].astype(np.float32)
    return opq


def fresh_pq():
    return nanopq_cpp.PQ(M=M, Ks=KS, verbose=False)


def fresh_opq():
    return nanopq_cpp.OPQ(M=M, Ks=KS, verbose=False)


# Every operation that takes vectors: (name, call(pq, opq, vecs)), with the
# argument name its messages use.
VECTOR_TAKERS = [
    ("PQ.fit", "vecs", lambda pq, opq, vecs: fresh_pq().fit(vecs, iter=1)),
    ("OPQ.fit", "vecs", lambda pq, opq, vecs: fresh_opq().fit(vecs, pq_iter=1, rotation_iter=1)),
    ("PQ.encode", "vecs", lambda pq, opq, vecs: pq.encode(vecs)),
    ("OPQ.encode", "vecs", lambda pq, opq, vecs: opq.encode(vecs)),
    ("PQ.dtable", "query", lambda pq, opq, vecs: pq.dtable(vecs)),
    ("OPQ.dtable", "query", lambda pq, opq, vecs: opq.dtable(vecs)),
    ("OPQ.rotate", "vecs", lambda pq, opq, vecs: opq.rotate(vecs)),
    ("OPQ.eigenvalue_allocation", "vecs", lambda pq, opq, vecs: fresh_opq().eigenvalue_allocation(vecs)),
]
TAKER_IDS = [name for name, _, _ in VECTOR_TAKERS]
TAKERS = [(argument, call) for _, argument, call in VECTOR_TAKERS]


@pytest.mark.parametrize("argument, call", TAKERS, ids=TAKER_IDS)
@pytest.mark.parametrize("dtype", [np.float64, np.float16, np.int32, np.uint8, bool, object, ">f4"])
def test_other_dtypes_are_refused_with_the_conversion_to_make(pq, opq, argument, call, dtype):
    # '>f4' is refused rather than converted: like any other dtype, a silent
    # conversion would hide a copy of the input.
    vecs = X.astype(dtype)
    with pytest.raises(
        DTypeError,
        match=rf"{argument} must have dtype float32, got .*; convert with {argument}\.astype\(np\.float32\)",
    ):
        call(pq, opq, vecs)


@pytest.mark.parametrize("argument, call", TAKERS, ids=TAKER_IDS)
def test_lists_are_refused_with_the_conversion_to_make(pq, opq, argument, call):
    with pytest.raises(
        DTypeError,
        match=rf"float32, got list; convert with np.asarray\({argument}, dtype=np.float32\)",
    ):
        call(pq, opq, X.tolist())


# rotate is left out: a matrix product, it returns the NaN it is given, as numpy would.
FINITE_TAKERS = [taker for name, taker in zip(TAKER_IDS, TAKERS) if name != "OPQ.rotate"]


@pytest.mark.parametrize(
    "argument, call", FINITE_TAKERS, ids=[name for name in TAKER_IDS if name != "OPQ.rotate"]
)
@pytest.mark.parametrize("bad_value", [np.nan, np.inf, -np.inf])
def test_nan_or_infinity_is_refused(pq, opq, argument, call, bad_value):
    vecs = X.copy()
    vecs[17, 5] = bad_value
    with pytest.raises(InputError, match=rf"{argument} contains NaN or infinity"):
        call(pq, opq, vecs)


@pytest.mark.parametrize("argument, call", TAKERS, ids=TAKER_IDS)
@pytest.mark.parametrize("shape", [(), (2, 3, D)])
def test_0d_and_3d_arrays_are_refused(pq, opq, argument, call, shape):
    with pytest.raises(InputError, match=rf"{argument} must have shape .*\(N, D\), got an array of shape"):
        call(pq, opq, np.zeros(shape, np.float32))


@pytest.mark.parametrize("call", [c for _, c in TAKERS[2:7]], ids=TAKER_IDS[2:7])
def test_the_wrong_dimension_is_refused(pq, opq, call):
    with pytest.raises(InputError, match=r"dimension must be .*12, got 8"):
        call(pq, opq, X[:, :8])


def test_fit_arguments_that_cannot_work():
    with pytest.raises(
        InputError, match="input dimension must be dividable by M: D=10 is not a multiple of M=4"
    ):
        fresh_pq().fit(X[:, :10])
    with pytest.raises(
        InputError, match="input dimension must be dividable by M: D=10 is not a multiple of M=4"
    ):
        fresh_opq().fit(X[:, :10])
    with pytest.raises(
        InputError, match=r"the number of training vectors \(N=16\) should be more than Ks=16"
    ):
        fresh_pq().fit(X[:16])
    with pytest.raises(InputError, match=r"\(N=0\) should be more than Ks=16"):
        fresh_pq().fit(X[:0])
    with pytest.raises(InputError, match="eigenvalue allocation needs at least 2 training vectors"):
        fresh_opq().eigenvalue_allocation(X[:1])


@pytest.mark.parametrize(
    "arguments, error, message",
    [
        ({"M": 0}, InputError, "M must be >= 1, got 0"),
        ({"M": -3}, InputError, "M must be >= 1, got -3"),
        ({"M": 4, "Ks": 0}, InputError, "Ks must be >= 1, got 0"),
        ({"M": 4, "Ks": -1}, InputError, "Ks must be >= 1, got -1"),
        ({"M": 4.0}, DTypeError, "M must be an integer, got float 4.0"),
        ({"M": "4"}, DTypeError, "M must be an integer, got str '4'"),
        ({"M": True}, DTypeError, "M must be an integer, got True"),
        ({"M": np.bool_(True)}, DTypeError, "M must be an integer, got (np.)?True"),
        ({"M": 4, "Ks": np.float32(16)}, DTypeError, "Ks must be an integer"),
        ({"M": 4, "Ks": None}, DTypeError, "Ks must be an integer, got NoneType None"),
    ],
)
def test_constructor_arguments_of_the_wrong_type_or_value(arguments, error, message):
    for cls in (nanopq_cpp.PQ, nanopq_cpp.OPQ):
        with pytest.raises(error, match=message):
            cls(verbose=False, **arguments)


@pytest.mark.parametrize("integer", [np.int64, np.int32, np.uint8, np.uint64])
def test_numpy_integers_are_integers(integer):
    pq = nanopq_cpp.PQ(M=integer(4), Ks=integer(16), verbose=False).fit(X, iter=integer(2), seed=integer(5))
    assert type(pq.M) is int and type(pq.Ks) is int
    reference = nanopq_cpp.PQ(M=4, Ks=16, verbose=False).fit(X, iter=2, seed=5)
    np.testing.assert_array_equal(pq.codewords, reference.codewords)
    ids, _ = pq.search(X[0], pq.encode(X), topk=integer(3))
    assert ids.shape == (3,)


def layouts_of(vecs):
    """The same values in layouts numpy allows: strided, reversed, Fortran, read-only."""
    wide = np.zeros((vecs.shape[0] * 2, vecs.shape[1] * 2), np.float32)
    wide[::2, ::2] = vecs
    read_only = vecs.copy()
    read_only.flags.writeable = False
    return {
        "strided": wide[::2, ::2],
        "fortran": np.asfortranarray(vecs),
        "read-only": read_only,
        "reversed-twice": vecs[::-1][::-1],
        "misaligned": misaligned(vecs),
    }


@pytest.mark.parametrize("layout", ["strided", "fortran", "read-only", "reversed-twice", "misaligned"])
def test_layouts_give_the_contiguous_answers(pq, opq, layout):
    vecs = layouts_of(X)[layout]
    assert vecs.flags.c_contiguous == (layout in ("read-only", "reversed-twice", "misaligned"))
    np.testing.assert_array_equal(pq.encode(vecs), pq.encode(X))
    np.testing.assert_array_equal(opq.encode(vecs), opq.encode(X))
    np.testing.assert_array_equal(pq.dtable(vecs[:5]).dtable, pq.dtable(X[:5]).dtable)
    np.testing.assert_array_equal(opq.rotate(vecs), opq.rotate(X))
    trained = fresh_pq().fit(vecs, iter=2, seed=9)
    np.testing.assert_array_equal(trained.codewords, fresh_pq().fit(X, iter=2, seed=9).codewords)


def test_a_strided_query_vector_gives_the_contiguous_table(pq):
    np.testing.assert_array_equal(pq.dtable(X[:, 0].copy()[:D]).dtable, pq.dtable(X[:D, 0]).dtable)


def test_memory_mapped_vectors(pq, tmp_path):
    path = tmp_path / "vectors.npy"
    np.save(path, X)
    mapped = np.load(path, mmap_mode="r")
    assert isinstance(mapped, np.memmap) and not mapped.flags.writeable
    np.testing.assert_array_equal(pq.encode(mapped), pq.encode(X))
    np.testing.assert_array_equal(pq.dtable(mapped[0]).dtable, pq.dtable(X[0]).dtable)
    trained = fresh_pq().fit(mapped, iter=2, seed=9)
    np.testing.assert_array_equal(trained.codewords, fresh_pq().fit(X, iter=2, seed=9).codewords)


def test_empty_batches_give_empty_results(pq, opq):
    for quantizer in (pq, opq):
        codes = quantizer.encode(np.zeros((0, D), np.float32))
        assert codes.shape == (0, M) and codes.dtype == np.uint8
        assert quantizer.decode(codes).shape == (0, D)
        tables = quantizer.dtable(np.zeros((0, D), np.float32))
        assert tables.dtable.shape == (0, M, KS)
        assert tables.adist(pq.encode(X)).shape == (0, len(X))
        ids, distances = tables.search(pq.encode(X), topk=2)
        assert ids.shape == distances.shape == (0, 2)
    assert opq.rotate(np.zeros((0, D), np.float32)).shape == (0, D)
    with pytest.raises(InputError, match="dimension must be Ds \\* M = 12, got 0"):
        pq.encode(np.zeros((0, 0), np.float32))


@pytest.mark.parametrize("metric", ["l2", "dot"])
def test_a_finite_query_whose_tables_overflow_is_refused(metric):
    """Squared distances (or products) past float32's range would tie every
    row at inf and return ids 0..k-1; a clear error instead."""
    pq = nanopq_cpp.PQ(M=2, Ks=4, metric=metric, verbose=False)
    pq.Ds = 2
    pq.codewords = np.arange(16, dtype=np.float32).reshape(2, 4, 2)
    query = np.full(4, 1e30 if metric == "l2" else 1e38, np.float32)
    with pytest.raises(InputError, match=f"query is too large for float32 distance tables: its {metric}"):
        pq.dtable(query)
    with pytest.raises(InputError, match="too large"):
        pq.search(query, np.zeros((5, 2), np.uint8), topk=3)
    pq.dtable(np.full(4, 1e15, np.float32))  # large, but its tables are finite
