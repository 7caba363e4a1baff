"""Scale-out: a dask array encoded on worker processes gives exactly the codes
of a single-process encode, and codes held as a dask array, searched block by
block on the workers and merged with merge_topk, give exactly the neighbours
of a single-process search.

Two properties make that hold, and are tested here without dask too: encoding
a row does not depend on which other rows share its block, and a quantizer
survives pickling (how it reaches the workers) unchanged, small and quickly.
"""

from __future__ import annotations

import copy
import os
import pickle
import time
from typing import Iterator, Tuple, Union

import nanopq_cpp
import numpy as np
import pytest
from conftest import correlated_clusters

Quantizer = Union[nanopq_cpp.PQ, nanopq_cpp.OPQ]
# D=96: from about this size numpy's matrix-vector product (used for one row)
# rounds differently from its matrix-matrix product, which OPQ must not show.
DIM = 96
N_VECTORS = 10_007
# Ragged on purpose: a one-row chunk, chunks not a multiple of anything, a short tail.
ROW_CHUNKS = (4000, 1, 2999, 3000, 7)
assert sum(ROW_CHUNKS) == N_VECTORS


@pytest.fixture(scope="module")
def vectors() -> np.ndarray:
    return correlated_clusters(N_VECTORS, DIM, seed=3)


@pytest.fixture(scope="module", params=["PQ", "OPQ"])
def quantizer(request, vectors) -> Quantizer:
    train = vectors[:3000]
    if request.param == "PQ":
        return nanopq_cpp.PQ(M=8, Ks=256, verbose=False).fit(train, iter=5, seed=1)
    return nanopq_cpp.OPQ(M=8, Ks=256, verbose=False).fit(train, pq_iter=5, rotation_iter=3, seed=1)


def array_bytes(quantizer: Quantizer) -> int:
    """What a pickle cannot do without: the codewords, and the rotation of an OPQ."""
    return quantizer.codewords.nbytes + (quantizer.R.nbytes if isinstance(quantizer, nanopq_cpp.OPQ) else 0)


# -- without dask ---------------------------------------------------------------------


def test_encoding_a_row_does_not_depend_on_its_block(quantizer, vectors):
    whole = quantizer.encode(vectors)
    head = vectors[:3000]
    for rows in (1, 2, 7, 1000):
        blocks = [quantizer.encode(head[start : start + rows]) for start in range(0, len(head), rows)]
        assert np.array_equal(np.concatenate(blocks), whole[: len(head)]), f"blocks of {rows} rows"


def test_opq_rotates_a_row_as_numpy_does_and_a_batch_within_rounding(vectors):
    """rotate() is numpy's ``vecs @ R``, as nanopq's, to the bit. For one row
    BLAS takes its matrix-vector path, which on some kernels (OpenBLAS's
    SkylakeX) rounds differently from a batch's matrix-matrix product; so a
    rotated row agrees with its batch within rounding only. Encoding does not
    take that path (the test above: a row's code does not depend on its block).
    """
    opq = nanopq_cpp.OPQ(M=8, verbose=False)
    opq.R = np.linalg.qr(np.random.default_rng(0).normal(size=(DIM, DIM)))[0].astype(np.float32)
    batch = opq.rotate(vectors[:500])
    one_by_one = np.concatenate([opq.rotate(vectors[i : i + 1]) for i in range(500)])
    for i in range(0, 500, 50):
        assert np.array_equal(opq.rotate(vectors[i : i + 1]), vectors[i : i + 1] @ opq.R)
        assert np.array_equal(opq.rotate(vectors[i]), vectors[i] @ opq.R)
    scale = float(np.abs(vectors[:500]).sum(axis=1).max())
    np.testing.assert_allclose(one_by_one, batch, rtol=0, atol=2 * DIM * 2.0**-24 * scale)


@pytest.mark.parametrize("protocol", sorted({pickle.DEFAULT_PROTOCOL, pickle.HIGHEST_PROTOCOL}))
def test_the_pickle_is_the_arrays_and_little_more(quantizer, protocol):
    pickled = pickle.dumps(quantizer, protocol=protocol)
    assert array_bytes(quantizer) <= len(pickled) <= array_bytes(quantizer) + 1024
    assert pickle.loads(pickled) == quantizer


def test_the_bound_encode_method_dask_ships_pickles_small(quantizer):
    """dask (and Ray, and Spark) pickle functions with cloudpickle; a bound
    method carries its instance, pickled by the same __getstate__."""
    cloudpickle = pytest.importorskip("cloudpickle")
    pickled = cloudpickle.dumps(quantizer.encode)
    assert array_bytes(quantizer) <= len(pickled) <= array_bytes(quantizer) + 2048
    assert cloudpickle.loads(pickled).__self__ == quantizer


def test_pickling_a_large_quantizer_is_fast():
    """4 MiB of codewords and a 1 MiB rotation: a round trip is a few copies of
    them (a millisecond or two); converting element by element would take 100x."""
    rng = np.random.default_rng(0)
    opq = nanopq_cpp.OPQ(M=64, Ks=4096, verbose=False)
    opq.pq.Ds = 8
    opq.pq.codewords = rng.normal(size=(64, 4096, 8)).astype(np.float32)
    opq.R = np.eye(512, dtype=np.float32)
    seconds = []
    for _ in range(5):
        start = time.perf_counter()
        restored = pickle.loads(pickle.dumps(opq))
        seconds.append(time.perf_counter() - start)
    assert restored == opq
    assert min(seconds) < 0.1, (
        f"a pickle round trip of {array_bytes(opq) / 2**20:.0f} MiB took {min(seconds):.3f} s"
    )


# -- with dask.distributed --------------------------------------------------------------


@pytest.fixture(scope="module")
def client() -> Iterator[object]:
    pytest.importorskip("dask.array", reason="needs dask[array]")
    distributed = pytest.importorskip("distributed", reason="needs distributed")
    saved_environment = dict(os.environ)
    try:
        # Worker processes, as on separate machines: the quantizer must really
        # be pickled to reach them. No dashboard: it needs bokeh and a port.
        cluster = distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        )
        with cluster, distributed.Client(cluster) as dask_client:
            yield dask_client
    finally:
        # The nanny writes its workers' settings (OMP_NUM_THREADS=1, ...) into
        # this process's environment to spawn them, and leaves them there:
        # later tests, and the interpreters they start, must not inherit them.
        os.environ.clear()
        os.environ.update(saved_environment)


def encode_block(block: np.ndarray, quantizer: Quantizer) -> np.ndarray:
    return quantizer.encode(block)


def dask_encode(quantizer: Quantizer, vectors: np.ndarray, ship: str, client) -> Tuple[np.ndarray, int]:
    """Codes of `vectors` chunked by ROW_CHUNKS, encoded on the workers, and the number of chunks."""
    import dask.array as da

    X = da.from_array(vectors, chunks=(ROW_CHUNKS, DIM))
    shape = {
        "dtype": quantizer.code_dtype,
        "chunks": (X.chunks[0], (quantizer.M,)),
        "meta": np.empty((0, quantizer.M), dtype=quantizer.code_dtype),
    }
    if ship == "in each task":
        codes = X.map_blocks(quantizer.encode, **shape)
    else:  # scattered: sent to every worker once, tasks refer to it
        codes = X.map_blocks(encode_block, quantizer=client.scatter(quantizer, broadcast=True), **shape)
    return codes.compute(), X.numblocks[0]


@pytest.mark.parametrize("ship", ["in each task", "scattered"])
def test_dask_encode_on_worker_processes_equals_a_single_process_encode(client, quantizer, vectors, ship):
    codes, n_chunks = dask_encode(quantizer, vectors, ship, client)
    assert n_chunks == len(ROW_CHUNKS)
    assert codes.dtype == quantizer.code_dtype
    assert np.array_equal(codes, quantizer.encode(vectors))


def test_the_work_ran_in_other_processes(client):
    """Guards the test above against a cluster that silently ran in-process."""
    worker_pids = set(client.run(os.getpid).values())
    assert len(worker_pids) == 2 and os.getpid() not in worker_pids


def test_dask_workers_run_the_core_on_one_thread_each(client):
    """dask's nanny sets OMP_NUM_THREADS=1 in its workers, which nanopq_cpp
    honours: one core thread per dask thread, no oversubscription (README)."""
    assert set(client.run(nanopq_cpp.get_num_threads).values()) == {1}


# -- sharded search with dask.distributed ------------------------------------------------

# Chunks of the codes searched block by block: an empty chunk, a one-row
# chunk, and a tail that repeats the first 2000 rows (ties across blocks).
SEARCH_CHUNKS = (4000, 0, 1, 2999, 3000, 7, 2000)


def with_metric(quantizer: Quantizer, metric: str) -> Quantizer:
    """The same quantizer with another metric (it changes only the distance tables)."""
    twin = copy.deepcopy(quantizer)
    (twin.pq if isinstance(twin, nanopq_cpp.OPQ) else twin).metric = metric
    return twin


def search_block(
    codes: np.ndarray, table: nanopq_cpp.DistanceTable, first_row: int, topk: int
) -> Tuple[np.ndarray, np.ndarray]:
    ids, distances = table.search(codes, topk=topk)
    return np.where(ids >= 0, ids + first_row, -1), distances


def dask_search(codes, table: nanopq_cpp.DistanceTable, topk: int) -> Tuple[np.ndarray, np.ndarray]:
    """Searches each row block of the dask array `codes` in a task of its own, and merges."""
    import dask

    first_rows = np.cumsum((0, *codes.chunks[0][:-1])).tolist()
    table_once = dask.delayed(table)  # one key: sent to each worker once, not with every task
    tasks = [
        dask.delayed(search_block)(block, table_once, first, topk)
        for block, first in zip(codes.to_delayed().ravel(), first_rows)
    ]
    results = dask.compute(*tasks)
    return nanopq_cpp.merge_topk([r[0] for r in results], [r[1] for r in results], topk, table.metric)


@pytest.fixture(scope="module")
def dask_codes(client, quantizer, vectors) -> Tuple[object, np.ndarray]:
    """Codes encoded on the workers and kept there as a dask array, and the same codes here."""
    import dask.array as da

    rows = np.concatenate([vectors, vectors[:2000]])
    X = da.from_array(rows, chunks=(SEARCH_CHUNKS, DIM))
    codes = X.map_blocks(
        quantizer.encode,
        dtype=quantizer.code_dtype,
        chunks=(X.chunks[0], (quantizer.M,)),
        meta=np.empty((0, quantizer.M), dtype=quantizer.code_dtype),
    ).persist()
    return codes, quantizer.encode(rows)


@pytest.mark.parametrize("metric", ["l2", "dot"])
@pytest.mark.parametrize("topk", [1, 10, 3500])
@pytest.mark.parametrize("n_queries", [None, 5], ids=["one query", "batch"])
def test_dask_sharded_search_equals_a_single_process_search(
    dask_codes, quantizer, vectors, metric, topk, n_queries
):
    codes, single_process_codes = dask_codes
    queries = vectors[-1] if n_queries is None else vectors[-n_queries:]
    table = with_metric(quantizer, metric).dtable(queries)
    ids, distances = dask_search(codes, table, topk)
    single_ids, single_distances = table.search(single_process_codes, topk=topk)
    assert np.array_equal(ids, single_ids)
    assert np.array_equal(distances, single_distances)


def test_the_sharded_codes_are_the_single_process_codes_and_tie_across_blocks(dask_codes, quantizer):
    codes, single_process_codes = dask_codes
    assert codes.numblocks[0] == len(SEARCH_CHUNKS)
    assert np.array_equal(codes.compute(), single_process_codes)
    assert np.array_equal(single_process_codes[-2000:], single_process_codes[:2000])
