"""Encode and search with Ray: the quantizer goes into the object store once,
remote tasks encode blocks of rows, the codes stay in the object store as
shards, remote tasks search the shards, and ``nanopq_cpp.merge_topk`` merges
their answers. Codes and neighbours are exactly those of a single process.

Here Ray is a local instance of 2 CPUs; on a cluster, ``ray.init(address=...)``
connects to it instead, and the blocks come from where the vectors live
(files read by other tasks, ``ray.data``, ...) rather than from this process.

Run with:  pip install ray && python examples/ray_scale_out.py
"""

from __future__ import annotations

import time
from typing import Any, List, Tuple, Union

import nanopq_cpp as nanopq
import numpy as np
import numpy.typing as npt
import ray

N_VECTORS = 100_003  # not a multiple of the block size: the last block is short
DIM = 64
M = 8
BLOCK_ROWS = 20_000
N_QUERIES = 100
TOPK = 10
TIMEOUT_S = 600  # for ray.get: a lost worker fails the run instead of hanging it
Quantizer = Union[nanopq.PQ, nanopq.OPQ]
Codes = npt.NDArray[np.unsignedinteger[Any]]
TopK = Tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]


@ray.remote
def encode_block(quantizer: Quantizer, block: npt.NDArray[np.float32]) -> Codes:
    """Encodes one block of rows, in a worker.

    Args:
        quantizer (PQ or OPQ): the quantizer, fetched from the object store
        block (np.ndarray): rows of X, shape=(n, D), dtype=np.float32

    Returns:
        np.ndarray: the block's codes, shape=(n, M), dtype=quantizer.code_dtype
    """
    # Ray runs one task per CPU: one core thread each, or the tasks of a
    # node would each start a thread per core and fight over them.
    nanopq.set_num_threads(1)
    return quantizer.encode(block)


@ray.remote
def search_shard(table: nanopq.DistanceTable, codes: Codes, first_row: int, topk: int) -> TopK:
    """The top-k of one shard of codes, in a worker, with global row ids.

    Args:
        table (DistanceTable): the queries' distance tables, made once by the driver
        codes (np.ndarray): the shard, rows first_row, first_row + 1, ... of all codes
        first_row (int): the shard's first row among all codes
        topk (int): how many neighbours to return per query

    Returns:
        tuple: ids (int64) and distances (float32), shape=(Nq, topk); ids are
        rows of all codes, -1 where the shard has fewer than topk rows
    """
    nanopq.set_num_threads(1)
    ids, distances = table.search(codes, topk=topk)
    # -1 (no candidate) must stay -1: shifted, it would name a real row.
    return np.where(ids >= 0, ids + first_row, -1), distances


def encode_on_ray(
    quantizer: Quantizer, blocks: List[npt.NDArray[np.float32]]
) -> List["ray.ObjectRef[Codes]"]:
    """Encodes blocks of rows in remote tasks; the codes stay in the object store.

    Args:
        quantizer (PQ or OPQ): a fitted quantizer, put into the object store once
        blocks (list of np.ndarray): consecutive blocks of rows, each (n_i, D) float32

    Returns:
        list: one reference per block to its codes, in the order of the blocks
    """
    quantizer_ref = ray.put(quantizer)
    return [encode_block.remote(quantizer_ref, block) for block in blocks]


def search_on_ray(
    table: nanopq.DistanceTable, code_refs: List["ray.ObjectRef[Codes]"], shard_rows: List[int], topk: int
) -> TopK:
    """Searches each shard of codes in a remote task and merges the shards' top-k.

    Args:
        table (DistanceTable): distance tables of a batch of queries
        code_refs (list): references to consecutive shards of codes
        shard_rows (list of int): the number of rows of each shard
        topk (int): how many neighbours to return per query

    Returns:
        tuple: ids and distances, shape=(Nq, topk), equal to
        ``table.search(np.concatenate(shards), topk)``
    """
    table_ref = ray.put(table)
    first_rows = np.cumsum([0, *shard_rows[:-1]]).tolist()
    results = ray.get(
        [search_shard.remote(table_ref, codes, first, topk) for codes, first in zip(code_refs, first_rows)],
        timeout=TIMEOUT_S,
    )
    return nanopq.merge_topk([ids for ids, _ in results], [dists for _, dists in results], topk, table.metric)


def main() -> None:
    rng = np.random.default_rng(0)
    train = rng.random((5_000, DIM), dtype=np.float32)
    X = rng.random((N_VECTORS, DIM), dtype=np.float32)
    queries = rng.random((N_QUERIES, DIM), dtype=np.float32)
    blocks = [X[start : start + BLOCK_ROWS] for start in range(0, N_VECTORS, BLOCK_ROWS)]
    quantizers: List[Quantizer] = [
        nanopq.PQ(M=M, verbose=False).fit(train, seed=123),
        nanopq.OPQ(M=M, metric="dot", verbose=False).fit(train, rotation_iter=5, seed=123),
    ]

    ray.init(num_cpus=2, include_dashboard=False)
    try:
        for quantizer in quantizers:
            print(f"\n{type(quantizer).__name__} ({quantizer.metric}):")
            start = time.perf_counter()
            code_refs = encode_on_ray(quantizer, blocks)
            codes = np.concatenate(ray.get(code_refs, timeout=TIMEOUT_S))
            print(f"  encoded {len(blocks)} blocks in remote tasks: {time.perf_counter() - start:.2f} s")
            assert np.array_equal(codes, quantizer.encode(X))
            print(f"  codes {codes.shape} {codes.dtype}, identical to the single-process encode")

            table = quantizer.dtable(queries)
            start = time.perf_counter()
            ids, distances = search_on_ray(table, code_refs, [len(block) for block in blocks], TOPK)
            print(
                f"  searched {len(code_refs)} shards for {N_QUERIES} queries and merged: "
                f"{time.perf_counter() - start:.2f} s"
            )
            single_ids, single_distances = table.search(codes, topk=TOPK)
            assert np.array_equal(ids, single_ids) and np.array_equal(distances, single_distances)
            print(f"  top-{TOPK} ids and distances identical to the single-process search")
    finally:
        ray.shutdown()


if __name__ == "__main__":
    main()
