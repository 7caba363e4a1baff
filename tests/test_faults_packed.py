"""PackedCodes under faults: bytes that cannot change after their check,
sizes that overflow, and unpickled states built to break them."""

from __future__ import annotations

import pickle
import threading

import nanopq_cpp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nanopq_cpp import InputError

EMPTY = np.zeros(0, np.uint8)


@pytest.fixture(scope="module")
def ks17():
    """Ks = 17: 8-bit packed codes where 17..255 index past the table."""
    rng = np.random.default_rng(17)
    pq = nanopq_cpp.PQ(M=8, Ks=17, verbose=False)
    pq.Ds = 2
    pq.codewords = rng.normal(size=(8, 17, 2)).astype(np.float32)
    codes = rng.integers(0, 17, size=(5000, 8)).astype(np.uint8)
    queries = rng.normal(size=(16, 16)).astype(np.float32)
    return pq, codes, queries


def test_the_packed_bytes_cannot_be_made_writable(ks17):
    pq, codes, _ = ks17
    packed = pq.pack(codes)
    assert not packed.data.flags.writeable
    with pytest.raises(ValueError, match="WRITEABLE"):
        packed.data.flags.writeable = True
    with pytest.raises(ValueError):
        packed.data[0] = 255


def test_writing_the_source_bytes_during_searches_changes_nothing(ks17):
    """A thread fills the array the PackedCodes were made from with 255s (codes
    >= Ks) while searches run with the GIL released: the searches keep seeing
    the bytes that were checked, and never read outside a table."""
    pq, codes, queries = ks17
    source = np.array(pq.pack(codes).data)  # a writable copy of the bytes
    packed = nanopq_cpp.PackedCodes(source, len(codes), 8, 17)
    dtable = pq.dtable(queries)
    expected = dtable.search(codes, topk=10)
    stop = threading.Event()

    def scribble() -> None:
        while not stop.is_set():
            source[:] = 255
            source[:] = 0

    writer = threading.Thread(target=scribble)
    writer.start()
    try:
        for _ in range(30):
            ids, distances = dtable.search(packed, topk=10)
            np.testing.assert_array_equal(ids, expected[0])
            np.testing.assert_array_equal(distances, expected[1])
    finally:
        stop.set()
        writer.join()
    assert np.array_equal(packed.unpack(), codes)


@pytest.mark.parametrize(
    ("N", "M", "name"),
    [
        (1000, 2**64 - 1, "M = 18446744073709551615"),
        (2**63, 3, "N = 9223372036854775808"),
        (0, 2**62, "M = "),
    ],
)
def test_sizes_that_overflow_are_refused_naming_the_shape(N, M, name):
    with pytest.raises(InputError, match=name):
        nanopq_cpp.PackedCodes(EMPTY, N=N, M=M, Ks=16)


@pytest.mark.parametrize(("field", "value"), [("N", 2**64), ("M", 2**64), ("N", -1), ("M", 0), ("Ks", 257)])
def test_out_of_range_ints_raise_input_error_naming_the_argument(field, value):
    arguments = {"N": 0, "M": 2, "Ks": 16, field: value}
    with pytest.raises(InputError, match=rf"^{field} must be"):
        nanopq_cpp.PackedCodes(EMPTY, **arguments)


def test_an_unpickled_state_with_an_overflowing_shape_is_refused(ks17):
    pq, codes, _ = ks17
    state = pq.pack(codes[:10]).__getstate__()
    for changes in ({"M": 2**64 - 1, "data": EMPTY}, {"N": 2**64}, {"N": 11}, {"Ks": 16}):
        packed = nanopq_cpp.PackedCodes.__new__(nanopq_cpp.PackedCodes)
        with pytest.raises(InputError):
            packed.__setstate__({**state, **changes})


@settings(max_examples=300, deadline=None)
@given(
    data=st.binary(max_size=600),
    N=st.one_of(st.integers(0, 80), st.integers(0, 2**64 + 5)),
    M=st.one_of(st.integers(0, 20), st.integers(0, 2**64 + 5)),
    Ks=st.integers(-1, 300),
)
def test_unpickling_any_state_gives_valid_codes_or_input_error(data, N, M, Ks):
    """The unpickling path fuzzed: whatever the state holds, PackedCodes are
    made only of codes < Ks whose search equals that of the codes."""
    state = {"nanopq_cpp_packed": 1, "N": N, "M": M, "Ks": Ks, "data": np.frombuffer(data, np.uint8)}
    try:
        packed = pickle.loads(pickle.dumps(state))
        restored = nanopq_cpp.PackedCodes.__new__(nanopq_cpp.PackedCodes)
        restored.__setstate__(packed)
    except InputError:
        return
    codes = restored.unpack()
    assert codes.shape == (N, M) and (codes.size == 0 or codes.max() < Ks)
    if M > 10_000:  # no rows of a huge M (no bytes bound it): nothing to search
        return
    tables = np.random.default_rng(0).random((2, M, Ks), dtype=np.float32)
    dtable = nanopq_cpp.DistanceTable(tables)
    for found, expected in zip(dtable.search(restored, topk=3), dtable.search(codes, topk=3)):
        np.testing.assert_array_equal(found, expected)
