"""Scale-out with Spark, by the recipes of examples/spark_scale_out.py (which
the README shows): encoding with mapInPandas into binary codes, searching
partition by partition and merging on the driver with merge_topk. Codes and
neighbours must equal a single process's, for PQ and OPQ, l2 and dot.

One local Spark (``local[2]``) serves the whole module. Its partitions hold
rows in shuffled order, and one partition is empty.
"""

from __future__ import annotations

import os
from typing import Any, Iterator

import nanopq_cpp
import numpy as np
import pytest
from conftest import correlated_clusters
from scale_engines import import_engine, import_example, require_java, watchdog

pytestmark = pytest.mark.scale

DIM = 32
N_VECTORS = 3000
N_PARTITIONS = 3
QUERY_ROWS = [1234, 5, 2000, 100, 2999, 1700]


@pytest.fixture(scope="module")
def recipe() -> Any:
    import_engine("pyspark", "pyspark")
    import_engine("pandas", "pyspark")  # mapInPandas needs pandas and pyarrow: pyspark[sql]
    import_engine("pyarrow", "pyspark")
    require_java()
    return import_example("spark_scale_out")


@pytest.fixture(scope="module")
def spark(recipe) -> Iterator[Any]:
    saved_environment = dict(os.environ)
    with watchdog(600):
        session = recipe.start_local_spark()
    try:
        # A whole module of Spark jobs must not hang CI: the watchdog ends the
        # process, with tracebacks, if the module runs past 15 minutes.
        with watchdog(900):
            yield session
    finally:
        with watchdog(300):
            session.stop()
        os.environ.clear()
        os.environ.update(saved_environment)


@pytest.fixture(scope="module")
def vectors() -> np.ndarray:
    vectors = correlated_clusters(N_VECTORS, DIM, seed=7)
    # Rows 2000.. repeat rows 0..: equal codes in different partitions, ties
    # that only the ids break. Rows 2600.. are all row 1234, the first query:
    # its top-k is all ties, which partitions must break by id, not by the
    # shuffled order in which they hold the rows.
    vectors[2000:2600] = vectors[:600]
    vectors[2600:] = vectors[1234]
    return vectors


@pytest.fixture(scope="module")
def vectors_df(spark, vectors) -> Any:
    """The vectors as a DataFrame (id long, vector array<float>) in shuffled partitions, and an empty one."""
    import pandas as pd

    schema = "id long, vector array<float>"
    rows = pd.DataFrame({"id": np.arange(N_VECTORS), "vector": list(vectors)})
    shuffled = spark.createDataFrame(rows, schema=schema).repartition(N_PARTITIONS)
    empty = spark.createDataFrame(spark.sparkContext.parallelize([], 1), schema=schema)
    return shuffled.union(empty)


@pytest.fixture(scope="module", params=["PQ-l2", "PQ-dot", "OPQ-l2", "OPQ-dot"])
def quantizer(request, vectors):
    kind, metric = request.param.split("-")
    train = vectors[:1500]
    if kind == "PQ":
        return nanopq_cpp.PQ(M=4, Ks=64, metric=metric, verbose=False).fit(train, iter=5, seed=2)
    return nanopq_cpp.OPQ(M=4, Ks=64, metric=metric, verbose=False).fit(
        train, pq_iter=5, rotation_iter=2, seed=2
    )


@pytest.fixture(scope="module")
def spark_codes(recipe, spark, quantizer, vectors_df) -> Any:
    codes = recipe.encode_with_spark(spark, quantizer, vectors_df).cache()
    yield codes
    codes.unpersist()


def test_the_partitions_hold_shuffled_rows_and_one_is_empty(vectors_df):
    from pyspark.sql.functions import spark_partition_id

    counts = vectors_df.groupBy(spark_partition_id().alias("partition")).count().toPandas()
    assert vectors_df.rdd.getNumPartitions() == N_PARTITIONS + 1
    assert len(counts) == N_PARTITIONS and counts["count"].sum() == N_VECTORS
    first_ids = vectors_df.limit(50).toPandas()["id"].to_numpy()
    assert not np.array_equal(first_ids, np.sort(first_ids))


def test_spark_encode_equals_a_single_process_encode(recipe, spark_codes, quantizer, vectors):
    schema = spark_codes.schema.simpleString()
    assert schema == "struct<id:bigint,codes:binary>"
    codes = recipe.collect_codes(spark_codes, quantizer)
    assert codes.dtype == quantizer.code_dtype
    assert np.array_equal(codes, quantizer.encode(vectors))


@pytest.mark.parametrize("topk", [10, 1200])  # 1200: more than a partition's rows
@pytest.mark.parametrize("n_queries", [None, len(QUERY_ROWS)], ids=["one query", "batch"])
def test_spark_search_merged_on_the_driver_equals_a_single_process_search(
    recipe, spark, spark_codes, quantizer, vectors, topk, n_queries
):
    queries = vectors[QUERY_ROWS[0]] if n_queries is None else vectors[QUERY_ROWS]
    ids, distances = recipe.search_with_spark(spark, quantizer, queries, spark_codes, topk)
    single_ids, single_distances = quantizer.search(queries, quantizer.encode(vectors), topk=topk)
    assert np.array_equal(ids, single_ids)
    assert np.array_equal(distances, single_distances)
