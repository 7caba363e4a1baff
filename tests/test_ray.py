"""Scale-out with Ray, as examples/ray_scale_out.py and the README do it: the
quantizer in the object store once, remote tasks encoding blocks and searching
shards of codes, the shards merged with merge_topk. Codes and neighbours must
equal a single process's, for PQ and OPQ, l2 and dot.

One local Ray instance (2 CPUs, no dashboard) serves the whole module.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Iterator, List, Tuple

import nanopq_cpp
import numpy as np
import pytest
from conftest import correlated_clusters
from scale_engines import import_engine, watchdog

pytestmark = pytest.mark.scale

DIM = 32
# Ragged blocks: an empty one, a one-row one, and a short tail.
BLOCK_ROWS = (1500, 0, 1, 1999, 700)
N_VECTORS = sum(BLOCK_ROWS)
TIMEOUT_S = 300  # for ray.get; the watchdog covers ray.init and ray.shutdown


@pytest.fixture(scope="module")
def ray() -> Iterator[Any]:
    ray = import_engine("ray", "ray")
    # Ray's workers do not have tests/ on sys.path: the task functions below
    # travel by value, as a driver script's (__main__'s) do.
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    saved_environment = dict(os.environ)
    with watchdog(600):
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, object_store_memory=2**28)
    try:
        yield ray
    finally:
        with watchdog(300):
            ray.shutdown()
        ray.cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
        os.environ.clear()
        os.environ.update(saved_environment)


@pytest.fixture(scope="module")
def vectors() -> np.ndarray:
    vectors = correlated_clusters(N_VECTORS, DIM, seed=5)
    # Rows 2000.. repeat rows 0..: equal codes in different blocks, ties that
    # only the ids break across shards.
    vectors[2000:2600] = vectors[:600]
    return vectors


@pytest.fixture(scope="module", params=["PQ-l2", "PQ-dot", "OPQ-l2", "OPQ-dot"])
def quantizer(request, vectors):
    kind, metric = request.param.split("-")
    train = vectors[:1500]
    if kind == "PQ":
        return nanopq_cpp.PQ(M=4, Ks=64, metric=metric, verbose=False).fit(train, iter=5, seed=2)
    return nanopq_cpp.OPQ(M=4, Ks=64, metric=metric, verbose=False).fit(
        train, pq_iter=5, rotation_iter=2, seed=2
    )


def blocks_of(array: np.ndarray) -> List[np.ndarray]:
    bounds = np.cumsum((0, *BLOCK_ROWS))
    return [array[start:end] for start, end in zip(bounds[:-1], bounds[1:])]


def encode_block(quantizer, block: np.ndarray) -> np.ndarray:
    nanopq_cpp.set_num_threads(1)  # one core per task: Ray runs a task per CPU
    return quantizer.encode(block)


def search_shard(table, codes: np.ndarray, first_row: int, topk: int) -> Tuple[np.ndarray, np.ndarray]:
    nanopq_cpp.set_num_threads(1)
    ids, distances = table.search(codes, topk=topk)
    return np.where(ids >= 0, ids + first_row, -1), distances


@pytest.fixture(scope="module")
def ray_codes(ray, quantizer, vectors) -> Tuple[List[Any], np.ndarray]:
    """References to each block's codes, encoded in remote tasks, and the codes themselves."""
    quantizer_ref = ray.put(quantizer)
    encode = ray.remote(encode_block)
    refs = [encode.remote(quantizer_ref, block) for block in blocks_of(vectors)]
    return refs, np.concatenate(ray.get(refs, timeout=TIMEOUT_S))


def test_ray_encode_equals_a_single_process_encode(ray_codes, quantizer, vectors):
    _, codes = ray_codes
    assert codes.dtype == quantizer.code_dtype
    assert np.array_equal(codes, quantizer.encode(vectors))


@pytest.mark.parametrize("topk", [1, 10, 700])
@pytest.mark.parametrize("n_queries", [None, 6], ids=["one query", "batch"])
def test_ray_sharded_search_equals_a_single_process_search(
    ray, ray_codes, quantizer, vectors, topk, n_queries
):
    code_refs, codes = ray_codes
    queries = vectors[-1] if n_queries is None else vectors[-n_queries:]
    table = quantizer.dtable(queries)
    table_ref = ray.put(table)
    search = ray.remote(search_shard)
    first_rows = np.cumsum((0, *BLOCK_ROWS[:-1])).tolist()
    results = ray.get(
        [search.remote(table_ref, shard, first, topk) for shard, first in zip(code_refs, first_rows)],
        timeout=TIMEOUT_S,
    )
    ids, distances = nanopq_cpp.merge_topk(
        [r[0] for r in results], [r[1] for r in results], topk, quantizer.metric
    )
    single_ids, single_distances = table.search(codes, topk=topk)
    assert np.array_equal(ids, single_ids)
    assert np.array_equal(distances, single_distances)


def test_the_tasks_ran_in_worker_processes_on_one_core_thread(ray):
    def where_and_threads(_: int) -> Tuple[int, int]:
        nanopq_cpp.set_num_threads(1)
        return os.getpid(), nanopq_cpp.get_num_threads()

    task = ray.remote(where_and_threads)
    answers = ray.get([task.remote(i) for i in range(8)], timeout=TIMEOUT_S)
    assert os.getpid() not in {pid for pid, _ in answers}
    assert {threads for _, threads in answers} == {1}
