"""merge_topk: the shards' searches, merged, equal one search over all their
codes, bit for bit, and bad input gets an error naming the argument."""

from __future__ import annotations

from typing import List, Sequence, Tuple, Union

import nanopq_cpp
import numpy as np
import pytest
from conftest import correlated_clusters

Quantizer = Union[nanopq_cpp.PQ, nanopq_cpp.OPQ]
DIM = 16
# Cuts of the rows into shards: an empty shard first and in the middle, a
# one-row shard, a shard shorter than most topk, and a long tail.
CUTS = (0, 0, 1, 5, 5, 700, 2400)


@pytest.fixture(scope="module")
def vectors() -> np.ndarray:
    return correlated_clusters(2400, DIM, seed=11)


@pytest.fixture(scope="module", params=["PQ-l2", "PQ-dot", "OPQ-l2", "OPQ-dot"])
def quantizer(request, vectors) -> Quantizer:
    kind, metric = request.param.split("-")
    # Ks=16 and M=2: 256 distinct codes for 2400 rows, so distances tie often.
    if kind == "PQ":
        return nanopq_cpp.PQ(M=2, Ks=16, metric=metric, verbose=False).fit(vectors[:1000], iter=5, seed=1)
    return nanopq_cpp.OPQ(M=2, Ks=16, metric=metric, verbose=False).fit(
        vectors[:1000], pq_iter=5, rotation_iter=2, seed=1
    )


@pytest.fixture(scope="module")
def codes(quantizer, vectors) -> np.ndarray:
    codes = quantizer.encode(vectors)
    # Rows 1000.. repeat rows 0..: the same code in two shards, a tie that
    # only the ids can break.
    codes[1000:1400] = codes[:400]
    return codes


def search_shards(
    table: nanopq_cpp.DistanceTable, codes: np.ndarray, cuts: Sequence[int], topk: int
) -> Tuple[List[np.ndarray], List[np.ndarray]]:
    """Each shard searched on its own, its ids made global as a worker would."""
    ids, distances = [], []
    for start, end in zip(cuts[:-1], cuts[1:]):
        shard_ids, shard_distances = table.search(codes[start:end], topk=topk)
        ids.append(np.where(shard_ids >= 0, shard_ids + start, -1))
        distances.append(shard_distances)
    return ids, distances


def assert_same(merged: Tuple[np.ndarray, np.ndarray], single: Tuple[np.ndarray, np.ndarray]) -> None:
    assert merged[0].dtype == np.int64 and merged[1].dtype == np.float32
    assert merged[0].shape == single[0].shape and merged[1].shape == single[1].shape
    assert np.array_equal(merged[0], single[0])
    assert np.array_equal(merged[1], single[1])


@pytest.mark.parametrize("topk", [1, 10, 300, 2400, 2500])
@pytest.mark.parametrize("n_queries", [None, 5], ids=["one query", "batch"])
def test_merged_shards_equal_one_search(quantizer, vectors, codes, topk, n_queries):
    queries = vectors[-1] if n_queries is None else vectors[-n_queries:]
    table = quantizer.dtable(queries)
    ids, distances = search_shards(table, codes, CUTS, topk)
    merged = nanopq_cpp.merge_topk(ids, distances, topk, metric=quantizer.metric)
    assert_same(merged, table.search(codes, topk=topk))


def test_the_data_has_ties_across_shards(quantizer, vectors, codes):
    """Guards the test above: tied distances must reach the top-k and span shards."""
    table = quantizer.dtable(vectors[-1])
    ids, distances = table.search(codes, topk=300)
    tied = distances[:-1] == distances[1:]
    assert tied.sum() > 100
    assert ((ids[:-1][tied] < 1000) & (ids[1:][tied] >= 1000)).any() or (
        (ids[:-1][tied] >= 1000) & (ids[1:][tied] < 1000)
    ).any()


def test_shards_searched_with_a_larger_topk(quantizer, vectors, codes):
    table = quantizer.dtable(vectors[-3:])
    ids, distances = search_shards(table, codes, (0, 1200, 2400), 50)
    assert_same(nanopq_cpp.merge_topk(ids, distances, 20, quantizer.metric), table.search(codes, topk=20))


def test_one_shard_and_only_empty_shards(quantizer, vectors, codes):
    table = quantizer.dtable(vectors[-2:])
    ids, distances = search_shards(table, codes, (0, 2400), 7)
    assert_same(nanopq_cpp.merge_topk(ids, distances, 7, quantizer.metric), table.search(codes, topk=7))
    ids, distances = search_shards(table, codes, (0, 0, 0), 3)
    assert_same(nanopq_cpp.merge_topk(ids, distances, 3, quantizer.metric), table.search(codes[:0], topk=3))
    worst = np.inf if quantizer.metric == "l2" else -np.inf
    assert np.array_equal(
        nanopq_cpp.merge_topk(ids, distances, 3, quantizer.metric)[1], np.full((2, 3), worst)
    )


def test_results_of_width_zero_and_no_queries():
    """An empty shard may come as a (k=0) result; a batch may hold no query."""
    empty_ids, empty_distances = np.zeros((2, 0), np.int64), np.zeros((2, 0), np.float32)
    ids = np.array([[4, 1], [-1, -1]], dtype=np.int64)
    distances = np.array([[0.5, 0.5], [np.inf, np.inf]], dtype=np.float32)
    merged_ids, merged_distances = nanopq_cpp.merge_topk([empty_ids, ids], [empty_distances, distances], 3)
    assert np.array_equal(merged_ids, [[1, 4, -1], [-1, -1, -1]])
    assert np.array_equal(merged_distances, [[0.5, 0.5, np.inf], [np.inf] * 3])
    none_ids, none_distances = nanopq_cpp.merge_topk(
        [np.zeros((0, 4), np.int64)], [np.zeros((0, 4), np.float32)], 2
    )
    assert none_ids.shape == none_distances.shape == (0, 2)


def test_dot_distances_are_inner_products_largest_first():
    ids = [np.array([3, 8, -1]), np.array([5, 2])]
    distances = [np.array([9.0, -1.0, -np.inf], np.float32), np.array([4.0, 4.0], np.float32)]
    merged_ids, merged_distances = nanopq_cpp.merge_topk(ids, distances, 5, metric="dot")
    assert np.array_equal(merged_ids, [3, 2, 5, 8, -1])
    assert np.array_equal(merged_distances, np.array([9, 4, 4, -1, -np.inf], np.float32))


def test_other_dtypes_that_hold_the_values_exactly_are_converted():
    ids = [np.array([[2, -1]], np.int32), np.array([[7]], np.uint16), np.array([[1]], ">i8")]
    distances = [
        np.array([[0.25, np.inf]], np.float16),
        np.array([[0.5]], np.float32),
        np.array([[0.25]], ">f4"),
    ]
    merged_ids, merged_distances = nanopq_cpp.merge_topk(ids, distances, 3)
    assert merged_ids.dtype == np.int64 and merged_distances.dtype == np.float32
    assert np.array_equal(merged_ids, [[1, 2, 7]])
    assert np.array_equal(merged_distances, [[0.25, 0.25, 0.5]])
    # Non-contiguous views are fine too.
    strided = np.array([[5, 0, 6, 0]], np.int64)[:, ::2]
    merged_ids, _ = nanopq_cpp.merge_topk([strided], [np.array([[2.0, 1.0]], np.float32)], 2)
    assert np.array_equal(merged_ids, [[6, 5]])


ONE_ID, ONE_DISTANCE = np.array([[0]], np.int64), np.array([[0.0]], np.float32)


@pytest.mark.parametrize(
    "ids, distances, error, message",
    [
        (ONE_ID, [ONE_DISTANCE], nanopq_cpp.DTypeError, "ids must be a sequence of arrays"),
        ([ONE_ID], ONE_DISTANCE, nanopq_cpp.DTypeError, "distances must be a sequence of arrays"),
        ([], [], nanopq_cpp.InputError, "ids must hold at least one shard"),
        ([ONE_ID, ONE_ID], [ONE_DISTANCE], nanopq_cpp.InputError, "one array per shard each, got 2 and 1"),
        ([[0]], [ONE_DISTANCE], nanopq_cpp.DTypeError, r"ids\[0\] must be a numpy.ndarray, got list"),
        (
            [ONE_ID],
            [np.zeros((1, 2), np.float32)],
            nanopq_cpp.InputError,
            r"distances\[0\] must have the shape",
        ),
        (
            [ONE_ID, np.array([[1], [2]])],
            [ONE_DISTANCE, np.zeros((2, 1), np.float32)],
            nanopq_cpp.InputError,
            "the same queries",
        ),
        (
            [ONE_ID, np.array([1])],
            [ONE_DISTANCE, np.array([0.0], np.float32)],
            nanopq_cpp.InputError,
            "same queries",
        ),
        (
            [np.zeros((1, 1, 1), np.int64)],
            [np.zeros((1, 1, 1), np.float32)],
            nanopq_cpp.InputError,
            r"\(Nq, k\)",
        ),
        (
            [np.array([[0]], np.uint64)],
            [ONE_DISTANCE],
            nanopq_cpp.DTypeError,
            r"ids\[0\] must have dtype int64",
        ),
        ([np.array([[0.0]])], [ONE_DISTANCE], nanopq_cpp.DTypeError, r"ids\[0\] must have an integer dtype"),
        ([np.array([[True]])], [ONE_DISTANCE], nanopq_cpp.DTypeError, r"ids\[0\] must have an integer dtype"),
        (
            [ONE_ID],
            [np.array([[0.0]])],
            nanopq_cpp.DTypeError,
            r"distances\[0\] must have dtype float32.*float64",
        ),
        (
            [ONE_ID],
            [np.array([[0]], np.int32)],
            nanopq_cpp.DTypeError,
            r"distances\[0\] must have a float dtype",
        ),
        (
            [ONE_ID, np.array([[-3]])],
            [ONE_DISTANCE] * 2,
            nanopq_cpp.InputError,
            "shard 1 hold -3 at \\[0, 0\\]",
        ),
    ],
)
def test_bad_input_is_refused_with_a_clear_error(ids, distances, error, message):
    with pytest.raises(error, match=message):
        nanopq_cpp.merge_topk(ids, distances, 1)


def test_bad_topk_and_metric():
    with pytest.raises(nanopq_cpp.InputError, match="topk must be >= 1"):
        nanopq_cpp.merge_topk([ONE_ID], [ONE_DISTANCE], 0)
    with pytest.raises(nanopq_cpp.DTypeError, match="topk must be an integer"):
        nanopq_cpp.merge_topk([ONE_ID], [ONE_DISTANCE], 1.5)  # type: ignore[arg-type]
    with pytest.raises(nanopq_cpp.InputError, match="metric must be 'l2' or 'dot'"):
        nanopq_cpp.merge_topk([ONE_ID], [ONE_DISTANCE], 1, metric="cosine")


def test_the_core_rechecks_what_could_corrupt_memory():
    core = nanopq_cpp._core
    with pytest.raises(ValueError, match="same length"):
        core.merge_topk([ONE_ID], [], 1, "l2")
    with pytest.raises(ValueError, match=r"ids\[0\] must be a numpy array of dtype int64"):
        core.merge_topk([ONE_ID.astype(np.int32)], [ONE_DISTANCE], 1, "l2")
    with pytest.raises(ValueError, match=r"distances\[0\] must have shape \(Nq, k\)"):
        core.merge_topk([ONE_ID], [ONE_DISTANCE[0]], 1, "l2")
    with pytest.raises(ValueError, match="C-contiguous"):
        core.merge_topk([np.zeros((1, 4), np.int64)[:, ::2]], [np.zeros((1, 2), np.float32)], 1, "l2")
    with pytest.raises(ValueError, match="same shape"):
        core.merge_topk([ONE_ID], [np.zeros((1, 2), np.float32)], 1, "l2")
    with pytest.raises(ValueError, match="same number of queries"):
        core.merge_topk(
            [ONE_ID, np.zeros((2, 1), np.int64)], [ONE_DISTANCE, np.zeros((2, 1), np.float32)], 1, "l2"
        )


def test_merge_topk_is_exported():
    assert "merge_topk" in nanopq_cpp.__all__
