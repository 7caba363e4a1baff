"""Packed codes and the fast scan: the same results as the unpacked codes."""

from __future__ import annotations

import pickle

import nanopq_cpp
import numpy as np
import pytest
from conftest import correlated_clusters, random_pq

LEVELS = nanopq_cpp.supported_simd_levels()


def assert_same_search(table: nanopq_cpp.DistanceTable, codes: np.ndarray, packed, topk: int, subset=None):
    expected_ids, expected = table.search(codes, topk=topk, subset=subset)
    ids, distances = table.search(packed, topk=topk, subset=subset)
    np.testing.assert_array_equal(ids, expected_ids)
    # Bit for bit: the same float sums, not just close ones.
    np.testing.assert_array_equal(distances.view(np.uint32), expected.view(np.uint32))


def random_codes(n: int, M: int, Ks: int, seed: int) -> np.ndarray:
    return (
        np.random.default_rng(seed)
        .integers(0, Ks, size=(n, M))
        .astype(nanopq_cpp.PQ(M, Ks, verbose=False).code_dtype)
    )


@pytest.mark.parametrize("metric", ["l2", "dot"])
@pytest.mark.parametrize("Ks", [2, 15, 16, 17, 256])
def test_packed_search_equals_search_on_random_data(metric, Ks):
    pq = random_pq(8, Ks, 3, metric=metric, seed=Ks)
    rng = np.random.default_rng(Ks)
    codes = random_codes(3001, 8, Ks, Ks)  # not a multiple of a block
    packed = pq.pack(codes)
    queries = rng.normal(size=(6, 24)).astype(np.float32)
    for topk in (1, 10, 3001, 4000):  # up to and past N
        assert_same_search(pq.dtable(queries), codes, packed, topk)
    assert_same_search(pq.dtable(queries[0]), codes, packed, 10)  # one query: 1-D results
    shortcut = pq.search(queries[0], packed, topk=5)
    np.testing.assert_array_equal(shortcut[0], pq.search(queries[0], codes, topk=5)[0])
    np.testing.assert_array_equal(pq.dtable(queries).adist(packed), pq.dtable(queries).adist(codes))


@pytest.mark.parametrize("metric", ["l2", "dot"])
@pytest.mark.parametrize("M, Ks", [(1, 16), (16, 16), (65, 16), (8, 256), (66, 256)])
def test_packed_search_equals_search_on_real_like_data(metric, M, Ks):
    X = correlated_clusters(6000, 2 * M, seed=M)
    pq = nanopq_cpp.PQ(M=M, Ks=Ks, metric=metric, verbose=False).fit(X[:3000], iter=3, seed=1)
    codes = pq.encode(X[1000:])
    packed = pq.pack(codes)
    assert_same_search(pq.dtable(X[:40]), codes, packed, 10)


def test_opq_packs_and_searches_as_its_pq(correlated_data):
    X, Xt = correlated_data
    opq = nanopq_cpp.OPQ(M=8, Ks=16, verbose=False).fit(Xt, pq_iter=3, rotation_iter=2, seed=1)
    codes = opq.encode(X)
    packed = opq.pack(codes)
    np.testing.assert_array_equal(packed.unpack(), codes)
    ids, distances = opq.search(X[:9], packed, topk=7)
    expected_ids, expected = opq.search(X[:9], codes, topk=7)
    np.testing.assert_array_equal(ids, expected_ids)
    np.testing.assert_array_equal(distances, expected)


def adversarial_tables(kind: str, M: int, Ks: int) -> np.ndarray:
    rng = np.random.default_rng(len(kind))
    tables = rng.normal(size=(3, M, Ks)).astype(np.float32)
    if kind == "equal entries":  # rows tie, broken by id
        tables = np.where(rng.random(tables.shape) < 0.7, 0.5, 0.25).astype(np.float32)
    elif kind == "all equal":
        tables[:] = 1.0
    elif kind == "one huge entry":  # every other subspace quantizes to a level or two
        tables[0, 2, 3] = 1e30
        tables[1, 0, 0] = -1e30
    elif kind == "negative products":  # dot around a large negative offset
        tables = (-3000.0 + tables * 1e-3).astype(np.float32)
    elif kind == "infinities":  # the exact scan
        tables[0, 1, 2] = np.inf
        tables[2, 3, 1] = -np.inf
    return tables


@pytest.mark.parametrize("metric", ["l2", "dot"])
@pytest.mark.parametrize(
    "kind", ["equal entries", "all equal", "one huge entry", "negative products", "infinities"]
)
@pytest.mark.parametrize("Ks", [16, 256])
def test_packed_search_equals_search_on_adversarial_tables(metric, kind, Ks):
    M = 12
    codes = random_codes(2500, M, Ks, 3)
    packed = nanopq_cpp.PQ(M=M, Ks=Ks, verbose=False).pack(codes)
    table = nanopq_cpp.DistanceTable(adversarial_tables(kind, M, Ks), metric=metric)
    assert_same_search(table, codes, packed, 10)
    assert_same_search(table, codes, packed, 3000)


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("Ks", [16, 256])
def test_every_level_gives_the_scalar_results(level, Ks, restore_level):
    pq = random_pq(9, Ks, 2, seed=4)
    codes = random_codes(4099, 9, Ks, 5)
    packed = pq.pack(codes)
    queries = np.random.default_rng(6).normal(size=(5, 18)).astype(np.float32)
    nanopq_cpp.set_simd_level("scalar")
    expected = pq.dtable(queries).search(codes, topk=10)
    nanopq_cpp.set_simd_level(level)
    found = pq.dtable(queries).search(packed, topk=10)
    np.testing.assert_array_equal(found[0], expected[0])
    np.testing.assert_array_equal(found[1], expected[1])


def test_results_do_not_depend_on_thread_count(restore_threads):
    pq = random_pq(16, 16, 2, seed=7)
    codes = random_codes(70000, 16, 16, 8)
    packed = pq.pack(codes)
    queries = np.random.default_rng(9).normal(size=(20, 32)).astype(np.float32)
    outputs = []
    for threads in (1, 2, 3):
        nanopq_cpp.set_num_threads(threads)
        outputs.append(pq.dtable(queries).search(packed, topk=15))
    for ids, distances in outputs[1:]:
        np.testing.assert_array_equal(ids, outputs[0][0])
        np.testing.assert_array_equal(distances, outputs[0][1])
    expected = pq.dtable(queries).search(codes, topk=15)
    np.testing.assert_array_equal(outputs[0][0], expected[0])


@pytest.mark.parametrize("Ks", [16, 200])
def test_subset_of_packed_codes(Ks):
    pq = random_pq(6, Ks, 2, metric="dot", seed=10)
    codes = random_codes(1000, 6, Ks, 11)
    packed = pq.pack(codes)
    table = pq.dtable(np.random.default_rng(12).normal(size=(3, 12)).astype(np.float32))
    for subset in ([999, 3, 3, 500, 7], np.array([], dtype=np.int64), np.arange(0, 1000, 3, dtype=np.uint32)):
        assert_same_search(table, codes, packed, 4, subset=np.asarray(subset))
    with pytest.raises(nanopq_cpp.CodeError, match="subset"):
        table.search(packed, topk=2, subset=np.array([1000]))


@pytest.mark.parametrize("Ks, M", [(2, 1), (15, 7), (16, 8), (17, 3), (256, 65)])
def test_pack_round_trip_size_and_pickle(Ks, M):
    pq = nanopq_cpp.PQ(M=M, Ks=Ks, verbose=False)
    for n in (0, 1, 33, 1000):
        codes = random_codes(n, M, Ks, n)
        packed = pq.pack(codes)
        assert isinstance(packed, nanopq_cpp.PackedCodes)
        assert (len(packed), packed.M, packed.Ks) == (n, M, Ks)
        unpacked = packed.unpack()
        assert unpacked.dtype == pq.code_dtype and unpacked.shape == (n, M)
        np.testing.assert_array_equal(unpacked, codes)
        assert packed.nbytes <= codes.nbytes
        if Ks <= 16 and M % 2 == 0:
            assert packed.nbytes == codes.nbytes // 2
        restored = pickle.loads(pickle.dumps(packed))
        assert restored == packed and len(restored) == n
        np.testing.assert_array_equal(restored.unpack(), codes)
    assert "PackedCodes(N=1000" in repr(packed)
    assert not packed.data.flags.writeable


def test_packed_codes_from_bytes_are_checked():
    codes = random_codes(100, 5, 15, 13)
    packed = nanopq_cpp.PQ(M=5, Ks=15, verbose=False).pack(codes)
    again = nanopq_cpp.PackedCodes(packed.data, 100, 5, 15)
    np.testing.assert_array_equal(again.unpack(), codes)
    with pytest.raises(nanopq_cpp.InputError, match="take 300 bytes, got 297"):
        nanopq_cpp.PackedCodes(packed.data[:297], 100, 5, 15)
    corrupted = packed.data.copy()
    corrupted[0] |= 0x0F
    with pytest.raises(nanopq_cpp.CodeError, match="must be < Ks = 15"):
        nanopq_cpp.PackedCodes(corrupted, 100, 5, 15)
    with pytest.raises(nanopq_cpp.InputError, match="1-D uint8"):
        nanopq_cpp.PackedCodes(packed.data.astype(np.int16), 100, 5, 15)
    with pytest.raises(nanopq_cpp.InputError, match="Ks must be <= 256"):
        nanopq_cpp.PackedCodes(packed.data, 100, 5, 300)
    state = packed.__getstate__()
    with pytest.raises(nanopq_cpp.InputError, match="newer nanopq_cpp"):
        nanopq_cpp.PackedCodes.__new__(nanopq_cpp.PackedCodes).__setstate__({**state, "nanopq_cpp_packed": 2})
    with pytest.raises(nanopq_cpp.CodeError):
        nanopq_cpp.PackedCodes.__new__(nanopq_cpp.PackedCodes).__setstate__({**state, "data": corrupted})
    with pytest.raises(nanopq_cpp.InputError, match="missing N"):
        nanopq_cpp.PackedCodes.__new__(nanopq_cpp.PackedCodes).__setstate__(
            {key: value for key, value in state.items() if key != "N"}
        )


def test_bad_input_to_pack_and_packed_search():
    pq = random_pq(4, 16, 2, seed=14)
    codes = random_codes(50, 4, 16, 15)
    with pytest.raises(nanopq_cpp.InputError, match="Ks <= 256"):
        nanopq_cpp.PQ(M=4, Ks=300, verbose=False).pack(codes.astype(np.uint16))
    with pytest.raises(nanopq_cpp.DTypeError, match="uint8"):
        pq.pack(codes.astype(np.int64))
    with pytest.raises(nanopq_cpp.InputError, match="M=4 columns"):
        pq.pack(codes[:, :3])
    with pytest.raises(nanopq_cpp.InputError, match="shape"):
        pq.pack(codes[0])
    with pytest.raises(nanopq_cpp.DTypeError):
        pq.pack(codes.tolist())
    bad = codes.copy()
    bad[7, 2] = 16
    with pytest.raises(nanopq_cpp.CodeError, match="Ks = 16"):
        pq.pack(bad)
    packed = pq.pack(codes)
    other = random_pq(4, 256, 2, seed=16).dtable(np.zeros(8, dtype=np.float32))
    with pytest.raises(nanopq_cpp.InputError, match="packed codes have M=4, Ks=16"):
        other.search(packed)
    with pytest.raises(nanopq_cpp.InputError, match="packed codes have M=4, Ks=16"):
        other.adist(packed)
    with pytest.raises(nanopq_cpp.InputError, match="topk must be >= 1"):
        pq.dtable(np.zeros(8, dtype=np.float32)).search(packed, topk=0)


def test_show_config_names_the_packed_paths(capsys):
    nanopq_cpp.show_config()
    out = capsys.readouterr().out
    assert "4-bit" in out and "8-bit" in out
