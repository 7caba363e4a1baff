"""A residual IVF-PQ index: faiss's IndexIVFPQ design, exact within the lists.

Vectors are grouped by their nearest coarse centroid, and each is kept as the
PQ code of its residual to that centroid, which a PQ encodes far more finely
than the vector itself. A search probes the ``nprobe`` centroids nearest to
the query and returns the exact ADC top-k of their codes.
"""

from __future__ import annotations

import os
from typing import Any, Dict, Optional, Tuple, Union

import numpy as np

from . import _core
from ._checks import (
    SIZE_MAX,
    as_codes,
    as_float32,
    as_int,
    as_seed,
    check_allocation,
    check_metric,
    code_dtype_for,
    top_k_bytes,
    training_vectors,
)
from ._errors import CodeError, DTypeError, InputError, NotFittedError, core_errors
from ._model_bytes import model_errors
from ._state import check_state_version
from .pq import PQ

_STATE_VERSION = 1


def _ids(ids: Any, name: str) -> Optional[np.ndarray]:
    """None, or ids as a 1-D int64 array (integer arrays are converted, values checked by the core)."""
    if ids is None:
        return None
    array = np.asarray(ids)
    if array.dtype.kind not in "iu" or array.ndim != 1:
        raise DTypeError(
            f"{name} must be a 1-D array of integer ids, got {array.dtype} of shape {array.shape}"
        )
    if array.dtype.kind == "u" and array.size and int(array.max()) > np.iinfo(np.int64).max:
        raise InputError(f"{name} holds ids above the int64 range")
    return np.require(array, dtype=np.int64, requirements=["C_CONTIGUOUS", "ALIGNED"])


class IVFPQ:
    """An inverted file over residual PQ codes (faiss's ``IndexIVFPQ``), on the C++ core.

    :func:`fit` trains ``nlist`` coarse centroids by k-means, then a PQ on the
    residuals of the training vectors to their nearest centroid (on the
    vectors themselves with ``by_residual=False``). :func:`add` puts each
    vector in the list of its nearest centroid as the code of its residual.
    :func:`search` probes the ``nprobe`` nearest centroids (by l2 distance, or
    inner product for ``metric='dot'``) and returns, among their vectors, the
    exact top-k of the ADC distances: for l2, the distance of a code in list
    ``l`` is what ``pq.dtable(q - coarse_centroids[l]).adist(code)`` gives, to
    the bit; for dot, ``q @ coarse_centroids[l]`` is added to the first row
    of ``pq.dtable(q)``. Ties go to the lower list, then to the vector added
    earlier to it. With ``nprobe=nlist`` the search is exact over all codes.

    Args:
        M (int): The number of sub-spaces of the PQ.
        Ks (int): The number of codewords of each sub-space (codes are uint8
            up to 256, uint16 up to 65536, else uint32).
        nlist (int): The number of lists (coarse centroids).
        metric (str): 'l2' or 'dot'.
        by_residual (bool): Encode residuals to the coarse centroids (True) or the vectors.
        verbose (bool): Print progress.
    """

    def __init__(
        self,
        M: int,
        Ks: int = 256,
        nlist: int = 1024,
        metric: str = "l2",
        by_residual: bool = True,
        verbose: bool = True,
    ) -> None:
        self._M = as_int(M, "M", minimum=1, maximum=SIZE_MAX)
        self._Ks = as_int(Ks, "Ks", minimum=2, maximum=2**32)
        self._nlist = as_int(nlist, "nlist", minimum=1, maximum=2**32 - 2)
        self._metric = check_metric(metric)
        if by_residual is not True and by_residual is not False:
            raise DTypeError(f"by_residual must be True or False, got {by_residual!r}")
        self.verbose = bool(verbose)
        with core_errors():
            self._index = _core.IVFPQ(self._M, self._Ks, self._nlist, self._metric, bool(by_residual))
        if self.verbose:
            print(f"M: {self._M}, Ks: {self._Ks}, nlist: {self._nlist}, metric: {self._metric}")

    # -- what it is -----------------------------------------------------------
    @property
    def M(self) -> int:
        """int: The number of sub-spaces."""
        return self._M

    @property
    def Ks(self) -> int:
        """int: The number of codewords of each sub-space."""
        return self._Ks

    @property
    def nlist(self) -> int:
        """int: The number of lists."""
        return self._nlist

    @property
    def metric(self) -> str:
        """str: 'l2' or 'dot'."""
        return self._metric

    @property
    def by_residual(self) -> bool:
        """bool: Whether the codes are of residuals to the coarse centroids."""
        return bool(self._index.by_residual)

    @property
    def code_dtype(self) -> type:
        """type: The dtype of a code: np.uint8, np.uint16 or np.uint32, from Ks."""
        return code_dtype_for(self._Ks)

    @property
    def D(self) -> Optional[int]:
        """int or None: The dimension of a vector (None before :func:`fit`)."""
        return int(self._index.D) if self.is_trained else None

    @property
    def is_trained(self) -> bool:
        """bool: Whether :func:`fit` has run."""
        return bool(self._index.is_trained)

    @property
    def N(self) -> int:
        """int: The number of vectors stored."""
        return int(self._index.N)

    def __len__(self) -> int:
        return self.N

    @property
    def pq(self) -> Optional[PQ]:
        """PQ or None: A copy of the fine quantizer (of residuals), None before :func:`fit`."""
        if not self.is_trained:
            return None
        pq = PQ(self._M, self._Ks, metric=self._metric, verbose=False)
        codewords = self._index.codewords
        pq.Ds, pq.codewords = int(codewords.shape[2]), codewords
        return pq

    @property
    def coarse_centroids(self) -> Optional[np.ndarray]:
        """np.ndarray or None: The coarse centroids, shape=(nlist, D), dtype=np.float32."""
        return self._index.centroids if self.is_trained else None

    @property
    def list_sizes(self) -> np.ndarray:
        """np.ndarray: The number of vectors in each list, shape=(nlist,), dtype=np.int64."""
        if not self.is_trained:
            return np.zeros(self._nlist, dtype=np.int64)
        return self._index.list_sizes

    def list_ids(self, list_no: int) -> np.ndarray:
        """The ids in list ``list_no`` (int64, in the order added)."""
        self._require_trained("list_ids")
        return self._index.list_ids(as_int(list_no, "list_no", minimum=0, maximum=self._nlist - 1))

    def list_codes(self, list_no: int) -> np.ndarray:
        """The codes in list ``list_no``, shape=(n, M), dtype=code_dtype, in the order of :func:`list_ids`."""
        self._require_trained("list_codes")
        return self._index.list_codes(as_int(list_no, "list_no", minimum=0, maximum=self._nlist - 1))

    def __repr__(self) -> str:
        return (
            f"IVFPQ(M={self._M}, Ks={self._Ks}, nlist={self._nlist}, metric={self._metric!r}, "
            f"by_residual={self.by_residual}, N={self.N})"
        )

    def _require_trained(self, what: str) -> None:
        if not self.is_trained:
            raise NotFittedError(f"fit the IVFPQ before {what}()")

    def _progress(self) -> Any:
        return print if self.verbose else None

    # -- building -------------------------------------------------------------
    def fit(self, vecs: np.ndarray, iter: int = 20, seed: int = 123, coarse_iter: int = 10) -> "IVFPQ":
        """Trains the coarse centroids by k-means on a sample of at most 256
        vectors a list, then the PQ (k-means in each sub-space) on the
        residuals of a sample of at most 256 a codeword, on all cores: faiss's
        IndexIVFPQ samples and coarse iterations by default, and nanopq's 20
        PQ iterations (faiss runs 25; on 1M image patches 25 gave the same R@10).

        Args:
            vecs (np.ndarray): Training vectors, shape=(N, D), dtype=np.float32,
                N >= nlist and N > Ks, D a multiple of M.
            iter (int): k-means iterations of the PQ.
            seed (int): Seeds the samples and the k-means starts.
            coarse_iter (int): k-means iterations of the coarse centroids.

        Returns:
            object: self
        """
        if self.N > 0:
            raise InputError(f"only an empty index can be fitted; it holds N={self.N} vectors")
        checked = training_vectors(vecs, self._M, more_than=self._Ks)
        if checked.shape[0] < self._nlist:
            raise InputError(f"fit needs at least nlist={self._nlist} vectors, got N={checked.shape[0]}")
        iterations = as_int(iter, "iter", minimum=1, maximum=SIZE_MAX)
        coarse_iterations = as_int(coarse_iter, "coarse_iter", minimum=1, maximum=SIZE_MAX)
        # A fresh untrained core, so that a second fit starts as the first.
        with core_errors():
            index = _core.IVFPQ(self._M, self._Ks, self._nlist, self._metric, self.by_residual)
            index.train(checked, iterations, coarse_iterations, as_seed(seed), self._progress())
        self._index = index
        return self

    def add(self, vecs: np.ndarray, ids: Optional[np.ndarray] = None) -> "IVFPQ":
        """Encodes vectors into their nearest lists, on all cores.

        Args:
            vecs (np.ndarray): shape=(N, D) (or (D,) for one), dtype=np.float32.
            ids (np.ndarray): optional integer ids, one per vector, distinct and
                not in the index; by default one past the largest id so far
                (0, 1, 2, ... for a new index).

        Returns:
            object: self
        """
        self._require_trained("add")
        checked = as_float32(vecs, "vecs", (1, 2), finite=True)
        if checked.ndim == 1:
            checked = checked.reshape(1, -1)
        self._check_dim(checked, "vecs")
        with core_errors():
            self._index.add(checked, _ids(ids, "ids"), self._progress())
        return self

    def add_codes(self, lists: np.ndarray, codes: np.ndarray, ids: Optional[np.ndarray] = None) -> "IVFPQ":
        """Adds vectors already encoded: each one's list, the code of its
        residual to that list's centroid (of the vector itself without
        residuals), and optional ids.

        Args:
            lists (np.ndarray): integer lists in [0, nlist), shape=(N,).
            codes (np.ndarray): shape=(N, M), dtype=code_dtype, each < Ks.
            ids (np.ndarray): optional integer ids, as for :func:`add`.

        Returns:
            object: self
        """
        self._require_trained("add_codes")
        list_array = _ids(lists, "lists")
        checked = as_codes(codes, self._M, self._Ks)
        if checked.dtype != self.code_dtype:  # another width: values checked, then narrowed or widened
            if checked.size and int(checked.max()) >= self._Ks:
                raise CodeError(f"codes contains the code {int(checked.max())}, which is not < Ks={self._Ks}")
            checked = checked.astype(self.code_dtype)
        if list_array is None or len(list_array) != len(checked):
            raise InputError("lists must hold one list a code")
        with core_errors():
            self._index.add_encoded(list_array, checked, _ids(ids, "ids"))
        return self

    def remove(self, ids: np.ndarray) -> None:
        """Deletes the vectors of ``ids`` (distinct ids in the index); the rest keep their lists and order."""
        checked = _ids(ids, "ids")
        if checked is None:
            raise DTypeError("ids must be a 1-D array of integer ids, got None")
        with core_errors():
            self._index.remove(checked)

    def clear(self) -> None:
        """Removes every vector; keeps the training."""
        self._index.clear()

    def _check_dim(self, array: np.ndarray, name: str) -> None:
        if array.shape[1] != self._index.D:
            raise InputError(f"{name} must have D={self._index.D} columns, got shape {array.shape}")

    # -- searching ------------------------------------------------------------
    def search(
        self,
        queries: np.ndarray,
        topk: int = 1,
        nprobe: int = 8,
        subset: Optional[np.ndarray] = None,
    ) -> Tuple[np.ndarray, np.ndarray]:
        """The ``topk`` nearest vectors of each query among the lists of its
        ``nprobe`` nearest centroids, on all cores; the same at any thread count.

        Args:
            queries (np.ndarray): shape=(Nq, D) (or (D,) for one), dtype=np.float32.
            topk (int): results a query.
            nprobe (int): lists a query probes (>= 1; more than nlist probes all).
            subset (np.ndarray): optional integer ids: only these are returned
                (ids not in the index are ignored).

        Returns:
            tuple: ids (int64) and distances (float32, squared l2 or inner
            products), shape=(Nq, topk) (or (topk,) for one query), best first;
            -1 and inf (-inf for dot) fill slots beyond the candidates.
        """
        self._require_trained("search")
        checked = as_float32(queries, "queries", (1, 2), finite=True)
        one = checked.ndim == 1
        if one:
            checked = checked.reshape(1, -1)
        self._check_dim(checked, "queries")
        k = as_int(topk, "topk", minimum=1, maximum=SIZE_MAX)
        probes = as_int(nprobe, "nprobe", minimum=1, maximum=SIZE_MAX)
        check_allocation(top_k_bytes(len(checked), k, 0), "the search results")
        with core_errors():
            ids, distances = self._index.search(checked, k, probes, _ids(subset, "subset"))
        return (ids[0], distances[0]) if one else (ids, distances)

    # -- files and pickles ----------------------------------------------------
    def save(self, path: Union[str, "os.PathLike[str]"]) -> None:
        """Writes the index to ``path`` (replacing it atomically) in nanopq_cpp's
        IVF-PQ file format, which C++'s ``nanopq_cpp::load_ivfpq`` reads too
        (docs/model-format.md)."""
        self._require_trained("save")
        with model_errors():
            self._index.save(os.fspath(path))

    @classmethod
    def load(cls, path: Union[str, "os.PathLike[str]"], verbose: bool = False) -> "IVFPQ":
        """The index in the IVF-PQ file at ``path`` (written by :func:`save` or C++'s ``save_ivfpq``).

        Raises:
            ModelFileError: the file is not a valid IVF-PQ file
            OSError: the file cannot be read
        """
        with model_errors():
            index = _core.IVFPQ.load(os.fspath(path))
        return cls._wrap(index, verbose)

    @classmethod
    def _wrap(cls, index: Any, verbose: bool) -> "IVFPQ":
        ivf = cls.__new__(cls)
        ivf._index = index
        ivf._M, ivf._Ks, ivf._nlist, ivf._metric = (
            int(index.M),
            int(index.Ks),
            int(index.nlist),
            str(index.metric),
        )
        ivf.verbose = bool(verbose)
        return ivf

    @classmethod
    def from_parts(
        cls,
        pq: PQ,
        coarse_centroids: np.ndarray,
        by_residual: bool = True,
        verbose: bool = False,
    ) -> "IVFPQ":
        """A trained, empty index from a fitted PQ (of residuals, or of the
        vectors without them; its metric is the index's) and coarse centroids
        of shape (nlist, D); fill it with :func:`add` or :func:`add_codes`."""
        if not isinstance(pq, PQ):
            raise DTypeError(f"pq must be a nanopq_cpp.PQ, got {type(pq).__name__}")
        codewords = pq._fitted_codewords("IVFPQ.from_parts")
        centroids = as_float32(coarse_centroids, "coarse_centroids", (2,), finite=True)
        if by_residual is not True and by_residual is not False:
            raise DTypeError(f"by_residual must be True or False, got {by_residual!r}")
        with core_errors():
            index = _core.IVFPQ.from_parts(codewords, pq.metric, centroids, by_residual)
        return cls._wrap(index, verbose)

    def __getstate__(self) -> Dict[str, Any]:
        state: Dict[str, Any] = {"nanopq_cpp_state": _STATE_VERSION, "verbose": self.verbose}
        if self.is_trained:
            state["data"] = self._index.to_bytes()
        else:
            state.update(
                M=self._M, Ks=self._Ks, nlist=self._nlist, metric=self._metric, by_residual=self.by_residual
            )
        return state

    def __setstate__(self, state: Dict[str, Any]) -> None:
        check_state_version(state, "IVFPQ", newest=_STATE_VERSION)
        if "data" in state:
            data = state["data"]
            if not isinstance(data, bytes):
                raise InputError("a pickled IVFPQ's data must be bytes")
            with model_errors():
                index = _core.IVFPQ.from_bytes(data, "a pickled IVFPQ")
        else:
            with core_errors():
                index = _core.IVFPQ(
                    as_int(state["M"], "M", minimum=1),
                    as_int(state["Ks"], "Ks", minimum=2),
                    as_int(state["nlist"], "nlist", minimum=1),
                    check_metric(state["metric"]),
                    bool(state["by_residual"]),
                )
        self._index = index
        self._M, self._Ks, self._nlist = int(index.M), int(index.Ks), int(index.nlist)
        self._metric = str(index.metric)
        self.verbose = bool(state.get("verbose", False))
