"""Scale-out with Ray, by the recipes of examples/ray_scale_out.py (which the
README shows): the quantizer in the object store once, remote tasks encoding
blocks and searching the blocks' codes where they stay, the shards merged with
merge_topk. Codes and neighbours must equal a single process's, for PQ and
OPQ, l2 and dot.

One local Ray instance (2 CPUs, no dashboard) serves the whole module.
"""

from __future__ import annotations

import os
from typing import Any, Iterator, List, Tuple

import nanopq_cpp
import numpy as np
import pytest
from conftest import correlated_clusters
from scale_engines import import_engine, import_example, watchdog

pytestmark = pytest.mark.scale

DIM = 32
# Ragged blocks: an empty one, a one-row one, and a short tail.
BLOCK_ROWS = [1500, 0, 1, 1999, 700]
N_VECTORS = sum(BLOCK_ROWS)
QUERY_ROWS = [1234, 5, 2000, 100, 4199, 1700]


@pytest.fixture(scope="module")
def ray() -> Iterator[Any]:
    ray = import_engine("ray", "ray")
    saved_environment = dict(os.environ)
    with watchdog(600):
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, object_store_memory=2**28)
    try:
        yield ray
    finally:
        with watchdog(300):
            ray.shutdown()
        os.environ.clear()
        os.environ.update(saved_environment)


@pytest.fixture(scope="module")
def recipe(ray) -> Iterator[Any]:
    example = import_example("ray_scale_out")
    # Ray's workers cannot import the example (examples/ is not on their
    # sys.path): its task functions travel by value, as a script's do.
    ray.cloudpickle.register_pickle_by_value(example)
    yield example
    ray.cloudpickle.unregister_pickle_by_value(example)


@pytest.fixture(scope="module")
def vectors() -> np.ndarray:
    vectors = correlated_clusters(N_VECTORS, DIM, seed=5)
    # Rows 2000.. repeat rows 0.. (equal codes in different blocks), and the
    # last block is all row 1234, the first query: its top-k is all ties,
    # across blocks, which only the ids break.
    vectors[2000:2600] = vectors[:600]
    vectors[-BLOCK_ROWS[-1] :] = vectors[1234]
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
    bounds = np.cumsum([0, *BLOCK_ROWS])
    return [array[start:end] for start, end in zip(bounds[:-1], bounds[1:])]


@pytest.fixture(scope="module")
def ray_codes(ray, recipe, quantizer, vectors) -> Tuple[List[Any], np.ndarray]:
    """References to each block's codes, encoded in remote tasks, and the codes themselves."""
    refs = recipe.encode_on_ray(quantizer, blocks_of(vectors))
    return refs, np.concatenate(ray.get(refs, timeout=recipe.TIMEOUT_S))


def test_ray_encode_equals_a_single_process_encode(ray_codes, quantizer, vectors):
    refs, codes = ray_codes
    assert len(refs) == len(BLOCK_ROWS)
    assert codes.dtype == quantizer.code_dtype
    assert np.array_equal(codes, quantizer.encode(vectors))


@pytest.mark.parametrize("topk", [1, 10, 750])  # 750: more than some blocks' rows
@pytest.mark.parametrize("n_queries", [None, len(QUERY_ROWS)], ids=["one query", "batch"])
def test_ray_sharded_search_equals_a_single_process_search(
    recipe, ray_codes, quantizer, vectors, topk, n_queries
):
    code_refs, codes = ray_codes
    table = quantizer.dtable(vectors[QUERY_ROWS[0]] if n_queries is None else vectors[QUERY_ROWS])
    ids, distances = recipe.search_on_ray(table, code_refs, BLOCK_ROWS, topk)
    single_ids, single_distances = table.search(codes, topk=topk)
    assert np.array_equal(ids, single_ids)
    assert np.array_equal(distances, single_distances)


def test_the_tasks_ran_in_worker_processes_on_one_core_thread(ray, recipe):
    """The workers that ran the example's tasks (the tests above) run the core on one thread."""

    def where_and_threads(_: int) -> Tuple[int, int]:
        return os.getpid(), nanopq_cpp.get_num_threads()

    task = ray.remote(where_and_threads)
    answers = ray.get([task.remote(i) for i in range(8)], timeout=recipe.TIMEOUT_S)
    assert os.getpid() not in {pid for pid, _ in answers}
    assert {threads for _, threads in answers} == {1}
