"""Merging the top-k results of shards: ``nanopq_cpp.merge_topk``.

Codes spread over workers are searched shard by shard; merging the shards'
answers gives exactly what one ``DistanceTable.search`` over all the codes
gives. The merge itself runs in the compiled core (cpp/include/nanopq_cpp/merge.hpp),
with the ordering and padding that search uses.
"""

from __future__ import annotations

from typing import Any, List, Sequence, Tuple

import numpy as np

from . import _core
from ._checks import SIZE_MAX, as_core_array, as_int, check_allocation, check_metric
from ._errors import DTypeError, InputError, core_errors


def merge_topk(
    ids: Sequence[np.ndarray], distances: Sequence[np.ndarray], topk: int, metric: str = "l2"
) -> Tuple[np.ndarray, np.ndarray]:
    """The `topk` best of several shards' search results, as one search over all their codes gives them.

    Each shard is searched on its own (``dt.search(shard_codes, topk)``), its
    ids shifted by the row where the shard starts to make them global (its
    -1 padding left as -1), and the shards' results merged here. The result
    equals ``dt.search(np.concatenate(shard_codes), topk)``: the same ids and
    distances, ties going to the lower id, -1 and inf ('l2') or -inf ('dot')
    in the slots beyond the number of codes. That holds when each shard was
    searched with the same query and metric, with a topk of at least `topk`
    (or of at least its number of codes), no row is in two shards, and each
    shard held its rows in the order of their ids (search breaks ties by
    position: a shard of rows in another order, such as a Spark partition,
    sorts them by id first).

    Args:
        ids (sequence of np.ndarray): one array per shard of global row ids,
            shape=(k_i, ) for one query or (Nq, k_i) for a batch, the same Nq
            for every shard; -1 marks an empty slot, whose distance is ignored.
            int64, as search returns them; other integer dtypes that int64
            holds (int8 to int32, uint8 to uint32) are converted.
        distances (sequence of np.ndarray): the matching distances, of the same
            shapes: float32, as search returns them (float16 is converted;
            float64 is refused rather than rounded).
        topk (int): how many neighbours to return per query
        metric (str): 'l2' (smallest distances first) or 'dot' (distances are
            inner products: largest first), as the shards were searched

    Returns:
        tuple: ids (int64) and distances (float32), each of shape (topk, ), or
        (Nq, topk) for a batch, best first.
    """
    metric = check_metric(metric)
    k = as_int(topk, "topk", minimum=1, maximum=SIZE_MAX)
    id_arrays = _shard_arrays(ids, "ids")
    distance_arrays = _shard_arrays(distances, "distances")
    if len(id_arrays) != len(distance_arrays):
        raise InputError(
            f"ids and distances must hold one array per shard each, got {len(id_arrays)} and "
            f"{len(distance_arrays)} arrays"
        )
    first_shape = id_arrays[0].shape
    for shard, (shard_ids, shard_distances) in enumerate(zip(id_arrays, distance_arrays)):
        if shard_ids.ndim not in (1, 2):
            raise InputError(
                f"ids[{shard}] must have shape (k, ) for one query or (Nq, k) for a batch, "
                f"got {shard_ids.shape}"
            )
        if shard_distances.shape != shard_ids.shape:
            raise InputError(
                f"distances[{shard}] must have the shape of ids[{shard}], {shard_ids.shape}, "
                f"got {shard_distances.shape}"
            )
        if shard_ids.ndim != len(first_shape) or shard_ids.shape[:-1] != first_shape[:-1]:
            raise InputError(
                f"every shard must answer the same queries: ids[{shard}] has shape {shard_ids.shape} "
                f"but ids[0] has shape {first_shape} (shapes may differ in the last axis, k, only)"
            )
        _check_dtype(shard_ids, f"ids[{shard}]", np.int64)
        _check_dtype(shard_distances, f"distances[{shard}]", np.float32)
    one_query = len(first_shape) == 1
    n_queries = 1 if one_query else first_shape[0]
    check_allocation(n_queries * k * 12, f"the merged top-k results ({n_queries} queries x topk={k})")
    core_ids = [as_core_array(shard.reshape(n_queries, shard.shape[-1]), np.int64) for shard in id_arrays]
    core_distances = [
        as_core_array(shard.reshape(n_queries, shard.shape[-1]), np.float32) for shard in distance_arrays
    ]
    with core_errors():
        merged_ids, merged_distances = _core.merge_topk(core_ids, core_distances, k, metric)
    if one_query:
        return merged_ids[0], merged_distances[0]
    return merged_ids, merged_distances


def _shard_arrays(arrays: Any, name: str) -> List[np.ndarray]:
    """The per-shard arrays of `arrays`, a non-empty sequence of numpy arrays."""
    # One array is iterable too, row by row: a lone (Nq, k) result would
    # silently pass for Nq shards of one query each.
    if isinstance(arrays, (np.ndarray, str, bytes)) or not hasattr(arrays, "__iter__"):
        raise DTypeError(
            f"{name} must be a sequence of arrays, one per shard (e.g. a list), got {type(arrays).__name__}; "
            f"a single shard's result goes in a list of one"
        )
    shards = list(arrays)
    if not shards:
        raise InputError(f"{name} must hold at least one shard's array, got an empty sequence")
    for shard, array in enumerate(shards):
        if not isinstance(array, np.ndarray):
            raise DTypeError(f"{name}[{shard}] must be a numpy.ndarray, got {type(array).__name__}")
    return shards


def _check_dtype(array: np.ndarray, name: str, dtype: Any) -> None:
    """Accepts `dtype` and the dtypes numpy casts to it without changing a value (any byte order)."""
    expected = np.dtype(dtype)
    integer = expected.kind == "i"
    if array.dtype.kind not in ("iu" if integer else "f"):
        kind = "an integer" if integer else "a float"
        raise DTypeError(f"{name} must have {kind} dtype, {expected} as search returns, got {array.dtype}")
    if not np.can_cast(array.dtype, expected, casting="safe"):
        raise DTypeError(
            f"{name} must have dtype {expected} (as search returns), got {array.dtype}, which {expected} "
            f"does not hold exactly; convert with {name}.astype(np.{expected}) if its values fit"
        )
