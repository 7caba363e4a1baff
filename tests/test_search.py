"""Batched tables and top-k search (beyond nanopq) against a numpy reference."""

from __future__ import annotations

import nanopq_cpp
import numpy as np
import pytest
from conftest import random_pq


@pytest.mark.parametrize("metric", ["l2", "dot"])
@pytest.mark.parametrize("Ks", [16, 300])
def test_batch_tables_equal_single_tables(metric, Ks):
    pq = random_pq(4, Ks, 3, metric=metric)
    rng = np.random.default_rng(1)
    queries = rng.normal(size=(7, 12)).astype(np.float32)
    codes = pq.encode(rng.normal(size=(1000, 12)).astype(np.float32))
    batch = pq.dtable(queries)
    assert batch.dtable.shape == (7, 4, Ks)
    distances = batch.adist(codes)
    assert distances.shape == (7, 1000) and distances.dtype == np.float32
    for q in range(7):
        single = pq.dtable(queries[q])
        np.testing.assert_array_equal(batch.dtable[q], single.dtable)
        np.testing.assert_array_equal(distances[q], single.adist(codes))


@pytest.mark.parametrize("metric", ["l2", "dot"])
@pytest.mark.parametrize("topk", [1, 10, 50])
def test_topk_matches_full_sort(metric, topk):
    pq = random_pq(8, 256, 2, metric=metric, seed=3)
    rng = np.random.default_rng(2)
    codes = rng.integers(0, 256, size=(20000, 8)).astype(np.uint8)
    queries = rng.normal(size=(5, 16)).astype(np.float32)
    tables = pq.dtable(queries)
    ids, distances = tables.search(codes, topk=topk)
    assert ids.shape == distances.shape == (5, topk) and ids.dtype == np.int64
    full = tables.adist(codes)
    for q in range(5):
        key = full[q] if metric == "l2" else -full[q]
        expected = np.lexsort((np.arange(len(key)), key))[:topk]  # by distance, then id
        np.testing.assert_array_equal(ids[q], expected)
        np.testing.assert_array_equal(distances[q], full[q][expected])
    single_ids, single_distances = pq.dtable(queries[0]).search(codes, topk=topk)
    np.testing.assert_array_equal(single_ids, ids[0])
    shortcut_ids, _ = pq.search(queries[0], codes, topk=topk)
    np.testing.assert_array_equal(shortcut_ids, ids[0])


def test_topk_on_a_subset_and_padding():
    pq = random_pq(4, 16, 2, seed=5)
    rng = np.random.default_rng(3)
    codes = rng.integers(0, 16, size=(500, 4)).astype(np.uint8)
    table = pq.dtable(rng.normal(size=8).astype(np.float32))
    subset = np.array([400, 3, 77, 250, 9])
    ids, distances = table.search(codes, topk=8, subset=subset)
    full = table.adist(codes)
    order = subset[np.lexsort((subset, full[subset]))]
    np.testing.assert_array_equal(ids[:5], order)
    np.testing.assert_array_equal(ids[5:], [-1, -1, -1])
    assert np.all(np.isinf(distances[5:]))
    with pytest.raises(nanopq_cpp.CodeError, match="subset"):
        table.search(codes, topk=2, subset=np.array([500]))
    with pytest.raises(nanopq_cpp.InputError, match="topk must be >= 1"):
        table.search(codes, topk=0)


def test_results_do_not_depend_on_thread_count(restore_threads):
    pq = random_pq(8, 256, 4, seed=11)
    rng = np.random.default_rng(4)
    X = rng.normal(size=(30000, 32)).astype(np.float32)
    queries = rng.normal(size=(3, 32)).astype(np.float32)
    outputs = []
    for threads in (1, 2, 4):
        nanopq_cpp.set_num_threads(threads)
        codes = pq.encode(X)
        table = pq.dtable(queries)
        outputs.append((codes, pq.decode(codes), table.adist(codes), *table.search(codes, topk=20)))
    for other in outputs[1:]:
        for expected, got in zip(outputs[0], other):
            np.testing.assert_array_equal(expected, got)
    nanopq_cpp.set_num_threads(None)
    assert nanopq_cpp.get_num_threads() >= 1
