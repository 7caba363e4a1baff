"""Encode and search more vectors than one process should, with dask: a dask
array chunked by rows, encoded on a cluster of worker processes, gives exactly
the codes of a single-process ``pq.encode``; the codes, kept on the workers as
a dask array and searched block by block there, give after
``nanopq_cpp.merge_topk`` exactly the neighbours of a single-process search.

The quantizer reaches the workers by pickle, which holds little more than its
codewords (and R for an OPQ), so it is shipped with every task at no real
cost; ``client.scatter`` sends it to each worker once instead (shown second).
Here the cluster is two local processes; with a real cluster, connect the
Client to its scheduler and read the vectors where they live (``da.from_zarr``,
``da.from_npy_stack``, ...) instead of generating them.

Run with:  pip install "dask[array]" distributed && python examples/dask_encode.py
"""

from __future__ import annotations

import pickle
import time
from typing import Any, List, Tuple, Union

import dask.array as da
import nanopq_cpp as nanopq
import numpy as np
import numpy.typing as npt
from dask.base import compute
from dask.delayed import delayed
from dask.distributed import Client, LocalCluster

N_VECTORS = 200_003  # not a multiple of the chunk size: the last chunk is short
DIM = 64
M = 8
CHUNK_ROWS = 20_000
N_WORKERS = 2
N_QUERIES = 100
TOPK = 10
Quantizer = Union[nanopq.PQ, nanopq.OPQ]
Codes = npt.NDArray[np.unsignedinteger[Any]]
TopK = Tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]


def encode_block(
    block: npt.NDArray[np.float32], quantizer: Quantizer
) -> npt.NDArray[np.unsignedinteger[Any]]:
    """Encodes one chunk of rows, on a worker.

    Args:
        block (np.ndarray): a chunk of X, shape=(n, D), dtype=np.float32
        quantizer (PQ or OPQ): the worker's copy of the scattered quantizer

    Returns:
        np.ndarray: the chunk's codes, shape=(n, M), dtype=quantizer.code_dtype
    """
    return quantizer.encode(block)


def search_block(codes: Codes, table: nanopq.DistanceTable, first_row: int, topk: int) -> TopK:
    """The top-k of one block of codes, on a worker, with global row ids.

    Args:
        codes (np.ndarray): a block of codes, rows first_row, first_row + 1, ... of all of them
        table (DistanceTable): the queries' distance tables
        first_row (int): the block's first row among all codes
        topk (int): how many neighbours to return per query

    Returns:
        tuple: ids (int64) and distances (float32), shape=(Nq, topk); -1 where
        the block has fewer than topk rows
    """
    ids, distances = table.search(codes, topk=topk)
    # -1 (no candidate) must stay -1: shifted, it would name a real row.
    return np.where(ids >= 0, ids + first_row, -1), distances


def dask_search(codes: da.Array, table: nanopq.DistanceTable, topk: int) -> TopK:
    """Searches each block of rows of `codes` in a task of its own and merges the blocks' top-k.

    Args:
        codes (dask.array.Array): codes of shape (N, M), chunked by rows only
        table (DistanceTable): distance tables of a batch of queries
        topk (int): how many neighbours to return per query

    Returns:
        tuple: ids and distances, shape=(Nq, topk), equal to ``table.search(codes.compute(), topk)``
    """
    first_rows = np.cumsum([0, *codes.chunks[0][:-1]]).tolist()
    table_once = delayed(table)  # one key: sent to each worker once, not with every task
    tasks = [
        delayed(search_block)(block, table_once, first, topk)
        for block, first in zip(codes.to_delayed().ravel(), first_rows)
    ]
    results: List[TopK] = list(compute(*tasks))
    return nanopq.merge_topk([ids for ids, _ in results], [dists for _, dists in results], topk, table.metric)


def array_bytes(quantizer: Quantizer) -> int:
    """The bytes of the arrays a pickle of `quantizer` must carry: its codewords, and R for an OPQ.

    Args:
        quantizer (PQ or OPQ): a fitted quantizer

    Returns:
        int: the arrays' size in bytes
    """
    arrays = [quantizer.codewords, quantizer.R if isinstance(quantizer, nanopq.OPQ) else None]
    return sum(array.nbytes for array in arrays if array is not None)


def main() -> None:
    rng = np.random.default_rng(0)
    train = rng.random((5_000, DIM), dtype=np.float32)
    queries = rng.random((N_QUERIES, DIM), dtype=np.float32)
    quantizers: List[Quantizer] = [
        nanopq.PQ(M=M, verbose=False).fit(train, seed=123),
        nanopq.OPQ(M=M, metric="dot", verbose=False).fit(train, rotation_iter=5, seed=123),
    ]

    # Worker processes (not threads), one task thread each: the parallelism
    # comes from the processes, as it would from separate machines.
    cluster = LocalCluster(n_workers=N_WORKERS, threads_per_worker=1, processes=True, dashboard_address=None)
    with cluster, Client(cluster) as client:
        # dask's nanny sets OMP_NUM_THREADS=1 in each worker, which nanopq_cpp
        # honours: one core thread per task thread, no oversubscription.
        print("core threads in each worker:", sorted(client.run(nanopq.get_num_threads).values()))

        # The vectors are generated on the workers, chunk by chunk. A chunk
        # must hold whole rows (all D columns): encode needs them.
        X = da.random.default_rng(42).random((N_VECTORS, DIM), dtype=np.float32, chunks=(CHUNK_ROWS, DIM))
        for quantizer in quantizers:
            print(
                f"\n{type(quantizer).__name__}: pickles to {len(pickle.dumps(quantizer)):,} bytes, "
                f"{array_bytes(quantizer):,} of them its arrays"
            )
            # One chunk of codes per chunk of rows; `meta` tells dask the result's type.
            code_chunks = (X.chunks[0], (quantizer.M,))
            no_codes = np.empty((0, quantizer.M), dtype=quantizer.code_dtype)

            # 1. The bound method goes into the task graph, quantizer and all.
            start = time.perf_counter()
            codes = X.map_blocks(
                quantizer.encode, dtype=quantizer.code_dtype, chunks=code_chunks, meta=no_codes
            )
            cluster_codes = codes.compute()
            print(
                f"  {X.numblocks[0]} chunks on {N_WORKERS} worker processes: "
                f"{time.perf_counter() - start:.2f} s"
            )

            # 2. The quantizer sent to every worker once; the tasks refer to it.
            on_workers = client.scatter(quantizer, broadcast=True)
            codes = X.map_blocks(
                encode_block,
                quantizer=on_workers,
                dtype=quantizer.code_dtype,
                chunks=code_chunks,
                meta=no_codes,
            )
            scattered_codes = codes.compute()

            # The same vectors, encoded in one call in this process, on all
            # cores: nanopq_cpp chose its thread count when fit() ran, before
            # the cluster put OMP_NUM_THREADS=1 into this process's environment.
            vectors = X.compute()
            start = time.perf_counter()
            single_process_codes = quantizer.encode(vectors)
            print(f"  one call in this process: {time.perf_counter() - start:.2f} s")

            assert np.array_equal(cluster_codes, single_process_codes)
            assert np.array_equal(scattered_codes, single_process_codes)
            print(
                f"  codes {cluster_codes.shape} {cluster_codes.dtype}, identical to the single-process encode"
            )

            # 3. Search: the codes stay on the workers (persist), each block is
            # searched where it lies, and only each block's top-k comes back.
            codes = codes.persist()
            table = quantizer.dtable(queries)
            start = time.perf_counter()
            ids, distances = dask_search(codes, table, TOPK)
            print(
                f"  searched {codes.numblocks[0]} blocks for {N_QUERIES} queries ({quantizer.metric}) and "
                f"merged: {time.perf_counter() - start:.2f} s"
            )
            single_ids, single_distances = table.search(single_process_codes, topk=TOPK)
            assert np.array_equal(ids, single_ids) and np.array_equal(distances, single_distances)
            print(f"  top-{TOPK} ids and distances identical to the single-process search")


if __name__ == "__main__":
    main()
