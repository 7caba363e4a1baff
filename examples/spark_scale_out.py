"""Encode and search with Spark: a DataFrame of vectors encoded partition by
partition with ``mapInPandas`` (the codes stored as ``binary``), each
partition of codes searched where it lies, and the partitions' answers merged
on the driver with ``nanopq_cpp.merge_topk``. Codes and neighbours are exactly
those of a single process.

Here Spark runs in local mode on 2 cores (``local[2]``); on a cluster, the
session comes from ``spark-submit`` and the vectors from where they live
(``spark.read.parquet(...)``) rather than from this process. Spark needs
Java 17 or newer.

Run with:  pip install "pyspark[sql]" && python examples/spark_scale_out.py
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any, Iterator, List, Tuple, Union

import nanopq_cpp as nanopq
import numpy as np
import numpy.typing as npt
import pandas as pd
from pyspark import TaskContext
from pyspark.sql import DataFrame, SparkSession

N_VECTORS = 100_003
DIM = 64
M = 8
N_PARTITIONS = 6
N_QUERIES = 100
TOPK = 10
Quantizer = Union[nanopq.PQ, nanopq.OPQ]
TopK = Tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]


def start_local_spark() -> SparkSession:
    """A Spark session in local mode on 2 cores, bound to the loopback address, without the web UI."""
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # else Spark picks a network interface's address
    spark = (
        SparkSession.builder.master("local[2]")
        .appName("nanopq_cpp scale-out")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        # The Python workers run this interpreter, which has nanopq_cpp.
        .config("spark.pyspark.python", sys.executable)
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def encode_with_spark(spark: SparkSession, quantizer: Quantizer, vectors: DataFrame) -> DataFrame:
    """Encodes a DataFrame of vectors partition by partition, on the executors.

    Args:
        spark (SparkSession): the session
        quantizer (PQ or OPQ): a fitted quantizer, broadcast to the executors once
        vectors (DataFrame): columns ``id long, vector array<float>``

    Returns:
        DataFrame: columns ``id long, codes binary``; Spark has no unsigned
        integers, so a row's codes travel as bytes in ``quantizer.code_dtype``
        (one byte per subspace for Ks <= 256)
    """
    quantizer_broadcast = spark.sparkContext.broadcast(quantizer)

    def encode_batches(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        # Spark runs one task per core: one core thread each, or the tasks of
        # an executor would each start a thread per core and fight over them.
        nanopq.set_num_threads(1)
        quantizer = quantizer_broadcast.value
        for batch in batches:
            if batch.empty:
                continue
            codes = quantizer.encode(np.stack(batch["vector"].to_numpy()).astype(np.float32, copy=False))
            yield pd.DataFrame({"id": batch["id"], "codes": [row.tobytes() for row in codes]})

    return vectors.mapInPandas(encode_batches, schema="id long, codes binary")


def collect_codes(codes: DataFrame, quantizer: Quantizer) -> npt.NDArray[np.unsignedinteger[Any]]:
    """The codes of a DataFrame made by encode_with_spark, on the driver, in the order of the ids.

    Args:
        codes (DataFrame): columns ``id long, codes binary``
        quantizer (PQ or OPQ): the quantizer that made them

    Returns:
        np.ndarray: shape=(N, M), dtype=quantizer.code_dtype
    """
    rows: pd.DataFrame = codes.toPandas()
    rows = rows.sort_values("id")
    packed = b"".join(rows["codes"])
    return np.frombuffer(packed, dtype=quantizer.code_dtype).reshape(len(rows), quantizer.M)


def search_with_spark(
    spark: SparkSession, quantizer: Quantizer, queries: npt.NDArray[np.float32], codes: DataFrame, topk: int
) -> TopK:
    """Searches each partition of codes on the executors and merges the partitions' top-k on the driver.

    Args:
        spark (SparkSession): the session
        quantizer (PQ or OPQ): the quantizer that made the codes
        queries (np.ndarray): shape=(Nq, D), or (D, ) for one query, dtype=np.float32
        codes (DataFrame): columns ``id long, codes binary``, as encode_with_spark makes them
        topk (int): how many neighbours to return per query

    Returns:
        tuple: ids and distances, shape=(Nq, topk) or (topk, ), equal to a single-process
        ``quantizer.search(queries, all_codes, topk)`` with the codes in the order of their ids
    """
    # The tables are made once, here, and broadcast: every partition scans the same ones.
    table_broadcast = spark.sparkContext.broadcast(quantizer.dtable(queries))
    code_dtype, n_subspaces = np.dtype(quantizer.code_dtype), quantizer.M
    n_queries = 1 if queries.ndim == 1 else len(queries)

    def search_partition(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        nanopq.set_num_threads(1)
        rows = [batch for batch in batches if not batch.empty]
        if not rows:
            return
        partition = pd.concat(rows)
        # Rows in the order of their ids: search breaks ties by position, which
        # must then be the order of the ids, as it is in the whole search.
        order = np.argsort(partition["id"].to_numpy(), kind="stable")
        ids = partition["id"].to_numpy()[order]
        packed = b"".join(partition["codes"].to_numpy()[order])
        part_codes = np.frombuffer(packed, dtype=code_dtype).reshape(len(ids), n_subspaces)
        found, distances = table_broadcast.value.search(part_codes, topk=topk)
        # Positions in this partition to ids; -1 (no candidate) stays -1.
        global_ids = np.where(found >= 0, ids[found], -1).reshape(n_queries, topk)
        yield pd.DataFrame(
            {
                "shard": TaskContext.get().partitionId(),  # type: ignore[union-attr]
                "query": np.arange(n_queries),
                "ids": list(global_ids),
                "distances": list(distances.reshape(n_queries, topk)),
            }
        )

    schema = "shard long, query long, ids array<long>, distances array<float>"
    answers: pd.DataFrame = codes.mapInPandas(search_partition, schema=schema).toPandas()
    answers = answers.sort_values(["shard", "query"])
    shards = [shard for _, shard in answers.groupby("shard")]
    # (Nq, topk) per shard; (topk, ) for one query, as search returns it.
    shape = (-1, topk) if queries.ndim == 2 else (topk,)
    ids = [np.stack(shard["ids"].to_numpy()).astype(np.int64).reshape(shape) for shard in shards]
    distances = [
        np.stack(shard["distances"].to_numpy()).astype(np.float32).reshape(shape) for shard in shards
    ]
    return nanopq.merge_topk(ids, distances, topk, quantizer.metric)


def main() -> None:
    rng = np.random.default_rng(0)
    train = rng.random((5_000, DIM), dtype=np.float32)
    X = rng.random((N_VECTORS, DIM), dtype=np.float32)
    queries = rng.random((N_QUERIES, DIM), dtype=np.float32)
    quantizers: List[Quantizer] = [
        nanopq.PQ(M=M, verbose=False).fit(train, seed=123),
        nanopq.OPQ(M=M, metric="dot", verbose=False).fit(train, rotation_iter=5, seed=123),
    ]

    spark = start_local_spark()
    try:
        vectors = spark.createDataFrame(
            pd.DataFrame({"id": np.arange(N_VECTORS), "vector": list(X)}),
            schema="id long, vector array<float>",
        ).repartition(N_PARTITIONS)
        for quantizer in quantizers:
            print(f"\n{type(quantizer).__name__} ({quantizer.metric}):")
            start = time.perf_counter()
            codes = encode_with_spark(spark, quantizer, vectors).cache()
            all_codes = collect_codes(codes, quantizer)
            print(
                f"  encoded {N_PARTITIONS} partitions with mapInPandas: {time.perf_counter() - start:.2f} s"
            )
            assert np.array_equal(all_codes, quantizer.encode(X))
            print(f"  codes {all_codes.shape} {all_codes.dtype}, identical to the single-process encode")

            start = time.perf_counter()
            ids, distances = search_with_spark(spark, quantizer, queries, codes, TOPK)
            print(
                f"  searched {N_PARTITIONS} partitions for {N_QUERIES} queries and merged on the driver: "
                f"{time.perf_counter() - start:.2f} s"
            )
            single_ids, single_distances = quantizer.search(queries, all_codes, topk=TOPK)
            assert np.array_equal(ids, single_ids) and np.array_equal(distances, single_distances)
            print(f"  top-{TOPK} ids and distances identical to the single-process search")
            codes.unpersist()
    finally:
        spark.stop()


if __name__ == "__main__":
    main()
