"""Bad input raises an AssertionError subclass (as nanopq's asserts do) naming the problem."""

from __future__ import annotations

import nanopq_cpp
import numpy as np
import pytest
from conftest import random_pq
from nanopq_cpp import CodeError, DTypeError, InputError, NotFittedError

X12 = np.random.default_rng(0).random((300, 12), dtype=np.float32)


@pytest.fixture(scope="module")
def fitted():
    return nanopq_cpp.PQ(M=4, Ks=16, verbose=False).fit(X12, iter=2)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"M": 0}, "M must be >= 1"),
        ({"M": 2.5}, "M must be an integer"),
        ({"M": 4, "Ks": 0}, "Ks must be >= 1"),
        ({"M": 4, "Ks": 2**32 + 1}, "Ks must be <= 4294967296"),
        ({"M": 4, "metric": "cosine"}, "metric must be 'l2' or 'dot'"),
    ],
)
def test_constructor_arguments(kwargs, match):
    with pytest.raises(AssertionError, match=match):
        nanopq_cpp.PQ(verbose=False, **kwargs)


def test_fit_arguments():
    pq = nanopq_cpp.PQ(M=4, Ks=16, verbose=False)
    with pytest.raises(DTypeError, match=r"float32.*astype\(np.float32\)"):
        pq.fit(X12.astype(np.float64))
    with pytest.raises(DTypeError, match="numpy.ndarray"):
        pq.fit(X12.tolist())
    with pytest.raises(InputError, match=r"shape \(N, D\)"):
        pq.fit(X12[0])
    with pytest.raises(InputError, match="more than Ks"):
        pq.fit(X12[:16])
    with pytest.raises(InputError, match="dividable by M"):
        pq.fit(X12[:, :10])
    with pytest.raises(InputError, match="iter must be >= 1"):
        pq.fit(X12, iter=0)
    with pytest.raises(InputError, match="seed must be >= 0"):
        pq.fit(X12, seed=-1)
    with pytest.raises(InputError, match="minit must be"):
        pq.fit(X12, minit="kmeans")
    with pytest.raises(InputError, match=r"minit as initial codewords must have shape"):
        pq.fit(X12, minit=np.zeros((4, 16, 2), dtype=np.float32))
    bad = X12.copy()
    bad[3, 4] = np.nan
    with pytest.raises(InputError, match="NaN or infinity"):
        pq.fit(bad)
    assert pq.codewords is None  # a failed fit leaves the quantizer as it was


def test_use_before_fit():
    pq = nanopq_cpp.PQ(M=4, Ks=16, verbose=False)
    for call in (
        lambda: pq.encode(X12),
        lambda: pq.decode(np.zeros((2, 4), np.uint8)),
        lambda: pq.dtable(X12[0]),
    ):
        with pytest.raises(NotFittedError, match=r"must be set by fit\(\) before"):
            call()
    opq = nanopq_cpp.OPQ(M=4, Ks=16, verbose=False)
    for call in (lambda: opq.encode(X12), lambda: opq.rotate(X12), lambda: opq.dtable(X12[0])):
        with pytest.raises(NotFittedError, match="R must be set by fit"):
            call()


def test_encode_and_dtable_inputs(fitted):
    with pytest.raises(InputError, match="dimension must be Ds \\* M = 12, got 8"):
        fitted.encode(X12[:, :8])
    with pytest.raises(DTypeError, match="float32"):
        fitted.encode(X12.astype(np.float16))
    with pytest.raises(InputError, match=r"shape \(D,\) or \(N, D\)"):
        fitted.dtable(X12[None])
    with pytest.raises(InputError, match="NaN or infinity"):
        fitted.encode(np.full((2, 12), np.inf, dtype=np.float32))


def test_code_checks(fitted):
    table = fitted.dtable(X12[0])
    with pytest.raises(CodeError, match=r"codes\[1, 2\] = 200 .*< Ks = 16"):
        codes = np.zeros((3, 4), np.uint8)
        codes[1, 2] = 200
        table.adist(codes)
    with pytest.raises(CodeError, match="negative code"):
        table.adist(np.full((2, 4), -1, dtype=np.int64))
    with pytest.raises(CodeError, match="not < Ks=16"):
        table.adist(np.full((2, 4), 16, dtype=np.int64))
    with pytest.raises(InputError, match="M=4 columns"):
        table.adist(np.zeros((2, 3), np.uint8))
    with pytest.raises(DTypeError, match="integer dtype"):
        table.adist(np.zeros((2, 4), np.float32))
    with pytest.raises(DTypeError, match="code_dtype"):
        fitted.decode(np.zeros((2, 4), np.int64))
    with pytest.raises(CodeError, match="< Ks = 16"):
        fitted.decode(np.full((2, 4), 99, np.uint8))
    with pytest.raises(CodeError):
        table.search(np.full((2, 4), 99, np.uint8), topk=1)
    # Errors are IndexError/ValueError too, for code that catches those.
    with pytest.raises(IndexError):
        table.adist(np.full((2, 4), 99, np.uint8))


def test_codewords_assigned_with_wrong_shape_or_dtype():
    pq = random_pq(4, 16, 3)
    pq.codewords = pq.codewords[:, :8]
    with pytest.raises(InputError, match=r"codewords must have shape \(M, Ks, Ds\)=\(4, 16, 3\)"):
        pq.encode(X12)
    pq.codewords = np.zeros((4, 16, 3), dtype=np.int32)
    with pytest.raises(DTypeError, match="codewords must be a float32"):
        pq.dtable(X12[0])


def test_distance_table_checks():
    with pytest.raises(DTypeError, match="float32"):
        nanopq_cpp.DistanceTable(np.zeros((2, 3)))
    with pytest.raises(InputError, match="metric"):
        nanopq_cpp.DistanceTable(np.zeros((2, 3), np.float32), metric="cos")
    with pytest.raises(InputError, match="shape"):
        nanopq_cpp.DistanceTable(np.zeros(3, np.float32))


def test_opq_arguments():
    opq = nanopq_cpp.OPQ(M=4, Ks=16, verbose=False)
    with pytest.raises(InputError, match="rotation_iter must be >= 1"):
        opq.fit(X12, rotation_iter=0)
    with pytest.raises(InputError, match="dividable by M"):
        opq.fit(X12[:, :10])
    opq.fit(X12, rotation_iter=1, pq_iter=1)
    with pytest.raises(InputError, match="dimension must be D=12"):
        opq.rotate(X12[:, :8])
    opq.R = np.eye(8, dtype=np.float32)
    with pytest.raises(InputError, match=r"R must have shape \(D, D\) with D=M\*Ds=12"):
        opq.encode(X12)


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda v: nanopq_cpp.PQ(M=v), "M"),
        (
            lambda v: nanopq_cpp.PQ(M=2, Ks=16, verbose=False).fit(np.zeros((20, 4), np.float32), iter=v),
            "iter",
        ),
        (
            lambda v: nanopq_cpp.OPQ(M=2, Ks=4, verbose=False).fit(np.zeros((20, 4), np.float32), pq_iter=v),
            "pq_iter",
        ),
        (
            lambda v: nanopq_cpp.OPQ(M=2, Ks=4, verbose=False).fit(
                np.zeros((20, 4), np.float32), rotation_iter=v
            ),
            "rotation_iter",
        ),
        (
            lambda v: nanopq_cpp.DistanceTable(np.zeros((2, 4), np.float32)).search(
                np.zeros((3, 2), np.uint8), v
            ),
            "topk",
        ),
        (lambda v: nanopq_cpp.set_num_threads(v), "n"),
        (lambda v: nanopq_cpp.PackedCodes(np.zeros(0, np.uint8), N=v, M=2, Ks=16), "N"),
    ],
)
def test_ints_past_what_the_core_takes_raise_input_error_naming_the_argument(call, name):
    """Not pybind11's TypeError, with every overload and the arguments in it."""
    for value in (2**64, 2**70):
        with pytest.raises(InputError, match=rf"^{name} must be <= \d+, got {value}$"):
            call(value)
