"""Faults in PQ codes handed to adist, decode and top-k search.

Codes come from storage and from users: each wrong value, width or dtype must
raise an error naming the problem, never index outside a table or wrap around
it (nanopq silently wraps negative codes through numpy's negative indexing).
"""

from __future__ import annotations

import nanopq_cpp
import numpy as np
import pytest
from conftest import misaligned, random_pq
from nanopq_cpp import CodeError, DTypeError, InputError, _core

M, KS, DS = 4, 16, 3
QUERY = np.random.default_rng(1).random(M * DS, dtype=np.float32)


@pytest.fixture(scope="module")
def pq():
    return random_pq(M, KS, DS)


@pytest.fixture(scope="module")
def valid_codes(pq):
    return np.random.default_rng(2).integers(KS, size=(50, M)).astype(pq.code_dtype)


def reference_adist(pq, codes):
    """nanopq's adist: a sum of table look-ups, in plain numpy."""
    table = pq.dtable(QUERY).dtable
    return table[np.arange(M), codes.astype(np.int64)].sum(axis=1)


# Every operation that reads codes: (name, call(pq, codes)).
CODE_READERS = [
    ("adist", lambda pq, codes: pq.dtable(QUERY).adist(codes)),
    ("search", lambda pq, codes: pq.dtable(QUERY).search(codes, topk=3)),
    ("batch adist", lambda pq, codes: pq.dtable(np.stack([QUERY, QUERY])).adist(codes)),
    ("batch search", lambda pq, codes: pq.dtable(np.stack([QUERY, QUERY])).search(codes, topk=3)),
]
CODE_READERS_AND_DECODE = CODE_READERS + [("decode", lambda pq, codes: pq.decode(codes))]


def reader_ids(readers):
    return [name for name, _ in readers]


@pytest.mark.parametrize("read", [r for _, r in CODE_READERS], ids=reader_ids(CODE_READERS))
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.uint32])
def test_a_code_not_below_ks_names_its_position(pq, valid_codes, read, dtype):
    check_code_not_below_ks(pq, valid_codes.astype(dtype), read)


def test_decode_names_the_position_of_a_code_not_below_ks(pq, valid_codes):
    check_code_not_below_ks(pq, valid_codes.copy(), lambda pq, codes: pq.decode(codes))


def check_code_not_below_ks(pq, codes, read):
    codes[7, 2] = KS
    with pytest.raises(CodeError, match=r"codes\[7, 2\] = 16 is not a valid code: codes must be < Ks = 16"):
        read(pq, codes)
    codes[7, 2] = 255
    with pytest.raises(IndexError, match=r"codes\[7, 2\] = 255"):
        read(pq, codes)


@pytest.mark.parametrize("read", [r for _, r in CODE_READERS], ids=reader_ids(CODE_READERS))
@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.int64])
def test_a_negative_code_is_refused_not_wrapped(pq, valid_codes, read, dtype):
    codes = valid_codes.astype(dtype)
    codes[3, 0] = -1
    with pytest.raises(CodeError, match=r"negative code \(-1\); codes must be in \[0, Ks=16\)"):
        read(pq, codes)


@pytest.mark.parametrize("read", [r for _, r in CODE_READERS], ids=reader_ids(CODE_READERS))
@pytest.mark.parametrize("dtype", [np.int8, np.int64, np.uint64])
def test_wide_or_signed_codes_out_of_range_are_refused(pq, valid_codes, read, dtype):
    codes = valid_codes.astype(dtype)
    codes[0, 3] = np.iinfo(dtype).max
    with pytest.raises(CodeError, match=rf"the code {np.iinfo(dtype).max}, which is not < Ks=16"):
        read(pq, codes)


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.int64, np.uint64, np.uint16, np.uint32])
def test_other_integer_dtypes_with_valid_codes_give_the_right_distances(pq, valid_codes, dtype):
    codes = valid_codes.astype(dtype)
    np.testing.assert_allclose(pq.dtable(QUERY).adist(codes), reference_adist(pq, valid_codes), rtol=1e-6)


@pytest.mark.parametrize(
    "read", [r for _, r in CODE_READERS_AND_DECODE], ids=reader_ids(CODE_READERS_AND_DECODE)
)
@pytest.mark.parametrize("width", [0, 3, 5])
def test_codes_of_the_wrong_width_are_refused(pq, read, width):
    with pytest.raises(InputError, match=rf"codes must have M=4 columns, got shape \(2, {width}\)"):
        read(pq, np.zeros((2, width), pq.code_dtype))


@pytest.mark.parametrize(
    "read", [r for _, r in CODE_READERS_AND_DECODE], ids=reader_ids(CODE_READERS_AND_DECODE)
)
@pytest.mark.parametrize("shape", [(), (4,), (1, 2, 4)])
def test_codes_that_are_not_a_matrix_are_refused(pq, read, shape):
    with pytest.raises(InputError, match=r"codes must have shape \(N, M\) with M=4"):
        read(pq, np.zeros(shape, pq.code_dtype))


@pytest.mark.parametrize("read", [r for _, r in CODE_READERS], ids=reader_ids(CODE_READERS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64, bool, object, np.complex64, "U1"])
def test_non_integer_codes_are_refused(pq, read, dtype):
    with pytest.raises(DTypeError, match="codes must have an integer dtype"):
        read(pq, np.zeros((2, M), dtype))


@pytest.mark.parametrize(
    "read", [r for _, r in CODE_READERS_AND_DECODE], ids=reader_ids(CODE_READERS_AND_DECODE)
)
def test_codes_that_are_not_arrays_are_refused(pq, read):
    with pytest.raises(DTypeError, match="codes must be a numpy.ndarray of integer codes, got list"):
        read(pq, [[0] * M])


@pytest.mark.parametrize("dtype", [np.uint16, np.uint32, np.int64, np.uint64, np.int8])
def test_decode_wants_the_quantizers_code_dtype(pq, dtype):
    with pytest.raises(
        DTypeError,
        match=rf"codes must have dtype uint8 \(this quantizer's code_dtype\), got {np.dtype(dtype)}",
    ):
        pq.decode(np.zeros((2, M), dtype))


def test_big_endian_codes_are_read_by_value(pq, valid_codes):
    swapped = valid_codes.astype(">u2")
    np.testing.assert_array_equal(pq.dtable(QUERY).adist(swapped), pq.dtable(QUERY).adist(valid_codes))
    swapped[1, 1] = KS  # 0x0010 read as little-endian would be 0x1000
    with pytest.raises(CodeError, match="the code 16, which is not < Ks=16"):
        pq.dtable(QUERY).adist(swapped)


def test_strided_fortran_and_read_only_codes_give_the_right_answers(pq, valid_codes):
    expected = pq.dtable(QUERY).adist(valid_codes)
    wide = np.zeros((50, 2 * M), pq.code_dtype)
    wide[:, ::2] = valid_codes
    read_only = valid_codes.copy()
    read_only.flags.writeable = False
    for codes in (wide[:, ::2], np.asfortranarray(valid_codes), read_only, misaligned(valid_codes)):
        np.testing.assert_array_equal(pq.dtable(QUERY).adist(codes), expected)
        np.testing.assert_array_equal(pq.decode(codes), pq.decode(valid_codes))
    np.testing.assert_array_equal(pq.dtable(QUERY).adist(valid_codes[::-2]), expected[::-2])


def test_empty_codes_give_empty_answers(pq):
    empty = np.zeros((0, M), pq.code_dtype)
    distances = pq.dtable(QUERY).adist(empty)
    assert distances.shape == (0,) and distances.dtype == np.float32
    assert pq.dtable(np.stack([QUERY, QUERY])).adist(empty).shape == (2, 0)
    assert pq.decode(empty).shape == (0, M * DS)
    ids, found = pq.dtable(QUERY).search(empty, topk=2)
    np.testing.assert_array_equal(ids, [-1, -1])
    np.testing.assert_array_equal(found, [np.inf, np.inf])


def test_opq_checks_codes_the_same_way(valid_codes):
    opq = nanopq_cpp.OPQ(M=M, Ks=KS, verbose=False)
    opq.pq = random_pq(M, KS, DS)
    opq.R = np.eye(M * DS, dtype=np.float32)
    bad = valid_codes.copy()
    bad[0, 0] = KS
    for read in (opq.decode, opq.dtable(QUERY).adist, lambda codes: opq.search(QUERY, codes, topk=2)):
        with pytest.raises(CodeError, match="must be < Ks = 16"):
            read(bad)
    with pytest.raises(CodeError, match="negative code"):
        opq.dtable(QUERY).adist(np.full((1, M), -5, np.int32))


class TestSubset:
    """Row ids of `subset` index the codes: each must be a row."""

    @pytest.mark.parametrize(
        "subset, message",
        [
            (np.array([0, -1]), r"subset\[1\] = -1 is not a row of codes \(0 <= id < 50\)"),
            (np.array([50]), r"subset\[0\] = 50 is not a row of codes \(0 <= id < 50\)"),
            (np.array([2**63 + 5], np.uint64), r"row id 9223372036854775813, which is not a row of codes"),
        ],
    )
    def test_ids_outside_the_codes_are_refused(self, pq, valid_codes, subset, message):
        with pytest.raises(CodeError, match=message):
            pq.dtable(QUERY).search(valid_codes, topk=2, subset=subset)

    @pytest.mark.parametrize("subset", [np.array([1.0]), np.array([[1]]), np.array(["a"])])
    def test_ids_that_are_not_a_list_of_integers_are_refused(self, pq, valid_codes, subset):
        with pytest.raises(InputError, match="subset must be a 1-D array of integer row ids"):
            pq.dtable(QUERY).search(valid_codes, topk=2, subset=subset)

    @pytest.mark.parametrize("dtype", [np.int8, np.uint16, np.int32, np.uint64])
    def test_any_integer_dtype_selects_the_same_rows(self, pq, valid_codes, dtype):
        subset = np.array([4, 9, 30, 31], dtype)
        ids, distances = pq.dtable(QUERY).search(valid_codes, topk=2, subset=subset)
        expected = reference_adist(pq, valid_codes)[subset.astype(np.int64)]
        order = np.lexsort((subset.astype(np.int64), expected))[:2]
        np.testing.assert_array_equal(ids, subset.astype(np.int64)[order])
        np.testing.assert_allclose(distances, expected[order], rtol=1e-6)


class TestCoreChecks:
    """The compiled core re-checks what could corrupt memory or be misread,
    for callers that bypass the Python layer."""

    def test_big_endian_codes_are_refused_not_misread(self, pq, valid_codes):
        tables = pq.dtable(QUERY).dtable[np.newaxis]
        with pytest.raises(ValueError, match=r"codes must be uint8, uint16 or uint32 \(native byte order\)"):
            _core.adist(tables, valid_codes.astype(">u2"))
        with pytest.raises(ValueError, match="native byte order"):
            _core.decode(valid_codes.astype(">u4"), pq.codewords)

    def test_big_endian_floats_are_refused_not_misread(self, pq):
        with pytest.raises(ValueError, match=r"vecs must have dtype float32 \(native byte order\)"):
            _core.encode(np.zeros((2, M * DS), ">f4"), pq.codewords)
        with pytest.raises(ValueError, match=r"dtable must have dtype float32 \(native byte order\)"):
            _core.adist(pq.dtable(QUERY).dtable[np.newaxis].astype(">f4"), np.zeros((1, M), np.uint8))

    @pytest.mark.parametrize("subset", [[1, 2], (1,), np.array([1], ">i8"), np.array([1], np.int32)])
    def test_a_subset_that_is_not_a_native_int64_array_is_refused(self, pq, valid_codes, subset):
        tables = pq.dtable(QUERY).dtable[np.newaxis]
        with pytest.raises(ValueError, match="subset must be a 1-D int64 array"):
            _core.search(tables, valid_codes, 2, "l2", subset)

    def test_misaligned_arrays_are_refused_not_read(self, pq, valid_codes):
        # Loading a float or uint16 from a misaligned address is undefined behaviour.
        tables = pq.dtable(QUERY).dtable[np.newaxis]
        with pytest.raises(ValueError, match="codes must be aligned"):
            _core.adist(tables, misaligned(valid_codes.astype(np.uint16)))
        with pytest.raises(ValueError, match="dtable must be aligned"):
            _core.adist(misaligned(tables), valid_codes)
        with pytest.raises(ValueError, match="codewords must be aligned"):
            _core.encode(np.zeros((2, M * DS), np.float32), misaligned(pq.codewords))
        with pytest.raises(ValueError, match="subset must be aligned"):
            _core.search(tables, valid_codes, 2, "l2", misaligned(np.arange(5)))

    def test_misaligned_wide_codes_and_ids_give_the_right_answers(self, pq, valid_codes):
        wide_codes = valid_codes.astype(np.uint16)
        subset = np.array([3, 1, 4, 1, 5])
        expected = pq.dtable(QUERY).search(wide_codes, topk=3, subset=subset)
        found = pq.dtable(QUERY).search(misaligned(wide_codes), topk=3, subset=misaligned(subset))
        np.testing.assert_array_equal(found[0], expected[0])
        np.testing.assert_array_equal(found[1], expected[1])

    def test_codes_not_below_ks_are_refused(self, pq, valid_codes):
        codes = valid_codes.copy()
        codes[-1, -1] = KS
        with pytest.raises(IndexError, match=r"codes\[49, 3\] = 16"):
            _core.adist(pq.dtable(QUERY).dtable[np.newaxis], codes)
