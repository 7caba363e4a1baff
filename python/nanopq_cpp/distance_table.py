"""DistanceTable: distance tables of queries, and the scans over codes that use them."""

from __future__ import annotations

from typing import Optional, Tuple, Union

import numpy as np

from . import _core
from ._checks import (
    SIZE_MAX,
    as_codes,
    as_core_array,
    as_float32,
    as_int,
    check_allocation,
    check_float32,
    check_metric,
    top_k_bytes,
)
from ._errors import CodeError, InputError, core_errors
from .packed import PackedCodes


class DistanceTable:
    """Distance table from a query (or a batch of queries) to codewords.

    Made by :func:`PQ.dtable` or :func:`OPQ.dtable`. The Asymmetric Distance
    from the query to database codes is computed by :func:`DistanceTable.adist`.

    Args:
        dtable (np.ndarray): shape=(M, Ks), or (Nq, M, Ks) for a batch, dtype=np.float32
        metric (str): 'l2' or 'dot'

    Attributes:
        dtable (np.ndarray): The table(s); dtable[m][ks] relates the m-th
            sub-vector of the query and the ks-th codeword of the m-th subspace.
        metric (str): 'l2' or 'dot'
    """

    def __init__(self, dtable: np.ndarray, metric: str = "l2") -> None:
        check_float32(dtable, "dtable", (2, 3))
        self.dtable = dtable
        self.metric = check_metric(metric)

    def _tables(self) -> np.ndarray:
        tables = as_float32(self.dtable, "dtable", (2, 3))
        # max() propagates NaN in one pass without a temporary; infinities are
        # allowed (a table may mask codewords with +inf).
        if tables.size and np.isnan(tables.max()):
            raise InputError("dtable contains NaN; build it from a finite query with PQ.dtable()")
        return tables if tables.ndim == 3 else tables[np.newaxis]

    def _packed(self, packed: PackedCodes, tables: np.ndarray) -> PackedCodes:
        """Packed codes, after checking they were packed for tables of this M and Ks."""
        if (packed.M, packed.Ks) != tables.shape[1:]:
            raise InputError(
                f"packed codes have M={packed.M}, Ks={packed.Ks} but the distance table has "
                f"M={tables.shape[1]}, Ks={tables.shape[2]}"
            )
        return packed

    def adist(self, codes: Union[np.ndarray, PackedCodes]) -> np.ndarray:
        """Asymmetric distances between the query and PQ-codes (not sorted).

        Args:
            codes (np.ndarray or PackedCodes): PQ codes with shape=(N, M), of
                the dtype of the quantizer that made them (any integer dtype is
                accepted), or the same codes packed by ``pq.pack(codes)``

        Returns:
            np.ndarray: distances with shape=(N, ), or (Nq, N) for a batch of
            tables, dtype=np.float32
        """
        tables = self._tables()
        if isinstance(codes, PackedCodes):
            packed = self._packed(codes, tables)
            check_allocation(
                len(tables) * len(packed) * 4, f"the distances ({len(tables)} x {len(packed)} float32)"
            )
            with core_errors():
                distances = _core.adist_packed(tables, packed._codes)
            return distances if self.dtable.ndim == 3 else distances[0]
        codes = as_codes(codes, tables.shape[1], tables.shape[2])
        n_distances = len(tables) * len(codes)
        check_allocation(n_distances * 4, f"the distances ({len(tables)} x {len(codes)} float32)")
        with core_errors():
            distances = _core.adist(tables, codes)
        return distances if self.dtable.ndim == 3 else distances[0]

    def search(
        self, codes: Union[np.ndarray, PackedCodes], topk: int = 1, subset: Optional[np.ndarray] = None
    ) -> Tuple[np.ndarray, np.ndarray]:
        """The `topk` nearest codes: smallest distances for 'l2', largest inner
        products for 'dot', best first, without sorting all distances.

        Packed codes (``pq.pack(codes)``) give the same ids and distances as
        the codes themselves, by the fast scan where this CPU has it.

        Args:
            codes (np.ndarray or PackedCodes): PQ codes with shape=(N, M), or
                the same codes packed by ``pq.pack(codes)``
            topk (int): how many neighbours to return per query
            subset (np.ndarray, optional): row ids into `codes` to search among

        Returns:
            tuple: ids (int64) and distances (float32), each of shape (topk,),
            or (Nq, topk) for a batch. Slots beyond the number of candidates
            hold id -1 and distance inf ('l2') or -inf ('dot').
        """
        tables = self._tables()
        if isinstance(codes, PackedCodes):
            codes = self._packed(codes, tables)
        else:
            codes = as_codes(codes, tables.shape[1], tables.shape[2])
        n_rows = len(codes)
        k = as_int(topk, "topk", minimum=1, maximum=SIZE_MAX)
        n_candidates = n_rows if subset is None else int(np.size(subset))
        table_bytes = tables.shape[1] * tables.shape[2] * 4
        check_allocation(
            top_k_bytes(len(tables), k, n_candidates, table_bytes, isinstance(codes, PackedCodes)),
            f"the top-k results ({len(tables)} queries x topk={k})",
        )
        ids = None
        if subset is not None:
            subset_array = np.asarray(subset)
            if subset_array.ndim != 1 or (subset_array.size and subset_array.dtype.kind not in "iu"):
                raise InputError(
                    f"subset must be a 1-D array of integer row ids, got {subset_array.dtype} of shape "
                    f"{subset_array.shape}"
                )
            # uint64 ids past the int64 range would wrap to negative ones in the cast below.
            if subset_array.size and subset_array.dtype == np.uint64 and subset_array.max() >= n_rows:
                raise CodeError(
                    f"subset contains the row id {subset_array.max()}, which is not a row of codes "
                    f"(0 <= id < {n_rows})"
                )
            ids = as_core_array(subset_array, np.int64)
        with core_errors():
            if isinstance(codes, PackedCodes):
                found, distances = _core.search_packed(tables, codes._codes, k, self.metric, ids)
            else:
                found, distances = _core.search(tables, codes, k, self.metric, ids)
        if self.dtable.ndim == 2:
            return found[0], distances[0]
        return found, distances
