"""An inverted index over PQ/OPQ codes with rii 0.2.12's interface.

``nanopq_cpp.Rii`` answers as rii's ``Rii`` does (``import nanopq_cpp as rii``
runs rii's own tests), and adds batched ``search``, user ids with ``remove``,
and files (``save``/``load``). The posting lists are exact: within the
candidates a query takes, the result is the exact ADC top-k, the ids and
distances a flat ``dtable(q).search`` over those rows returns.
"""

from __future__ import annotations

import copy
import os
from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np

from . import _core
from ._checks import SIZE_MAX, as_float32, as_int, as_seed, check_allocation, top_k_bytes
from ._errors import DTypeError, InputError, NotFittedError, core_errors
from ._model_bytes import model_errors
from ._state import check_state_version
from .model_file import _build, to_bytes
from .opq import OPQ
from .pq import PQ

_STATE_VERSION = 1
_METHODS = ("auto", "linear", "ivf")


def _inner_pq(quantizer: Union[PQ, OPQ]) -> PQ:
    return quantizer.pq if isinstance(quantizer, OPQ) else quantizer


def _target_ids(target_ids: Any, name: str = "target_ids") -> Optional[np.ndarray]:
    """Ids as the core takes them: None, or a 1-D int64 array (rii's dtype, never converted)."""
    if target_ids is None:
        return None
    if not isinstance(target_ids, np.ndarray) or target_ids.dtype != np.int64:
        found = getattr(target_ids, "dtype", type(target_ids).__name__)
        raise DTypeError(f"{name} must be a 1-D np.ndarray of dtype int64, got {found}")
    if target_ids.ndim != 1:
        raise InputError(f"{name} must be 1-D, got shape {target_ids.shape}")
    return np.ascontiguousarray(target_ids)


def _update_flag(flag: Any, nlist: int) -> bool:
    if isinstance(flag, str) and flag == "auto":
        return nlist > 0
    if flag is True or flag is False:
        return bool(flag)
    raise InputError(f"update_posting_lists must be True, False or 'auto', got {flag!r}")


class Rii:
    """Reconfigurable Inverted Index (Rii) [Matsui18]_ over PQ/OPQ codes, on the C++ core.

    The codes of the vectors are kept in the order added and grouped into
    posting lists by coarse centers, which are PQ codes themselves, trained
    by PQk-means on the codes; :func:`reconfigure` rebuilds the lists from the
    codes alone as data grows. A search ranks the lists by the query's
    distance to their centers and scans them until ``L`` candidates are
    taken; within those the result is exact. A subset of the ids can be
    searched fast at any size (``target_ids``).

    .. [Matsui18] Y. Matsui, R. Hinami, and S. Satoh, "Reconfigurable Inverted Index", ACM Multimedia 2018

    Args:
        fine_quantizer (nanopq_cpp.PQ or nanopq_cpp.OPQ): a fitted quantizer with
            Ks <= 256; the index keeps a copy.

    Attributes:
        fine_quantizer: the copy of the quantizer that encodes vectors and queries.
        threshold (numpy.poly1d or None): given ``L``, the subset size up to which
            ``method='auto'`` scans the subset's rows (linear) rather than the lists.
            Set by :func:`reconfigure`; may be replaced.
    """

    def __init__(self, fine_quantizer: Union[PQ, OPQ]) -> None:
        if not isinstance(fine_quantizer, (PQ, OPQ)):
            raise InputError(
                f"fine_quantizer must be a nanopq_cpp.PQ or OPQ, got {type(fine_quantizer).__name__}"
            )
        if fine_quantizer.Ks > 256:
            raise InputError(f"Ks must be <= 256 so that each code is a uint8, got Ks={fine_quantizer.Ks}")
        if fine_quantizer.codewords is None:
            raise NotFittedError("Please fit the PQ/OPQ instance first")
        self.fine_quantizer = copy.deepcopy(fine_quantizer)
        codewords = _inner_pq(self.fine_quantizer)._fitted_codewords("Rii")
        with core_errors():
            self._index = _core.Rii(codewords, self.fine_quantizer.metric)
        self._verbose = bool(fine_quantizer.verbose)
        self.threshold: Optional[np.poly1d] = None
        self.impl_cpp = _RiiCpp(self)

    # -- rii's properties -------------------------------------------------------
    @property
    def M(self) -> int:
        """int: The number of sub-spaces of the PQ/OPQ."""
        return int(self.fine_quantizer.M)

    @property
    def Ks(self) -> int:
        """int: The number of codewords of each sub-space."""
        return int(self.fine_quantizer.Ks)

    @property
    def N(self) -> int:
        """int: The number of vectors (PQ codes) stored."""
        return int(self._index.N)

    @property
    def nlist(self) -> int:
        """int: The number of posting lists (0 before :func:`reconfigure`)."""
        return int(self._index.nlist)

    @property
    def codewords(self) -> np.ndarray:
        """np.ndarray: The PQ/OPQ codewords, shape=(M, Ks, Ds), dtype=np.float32."""
        return self.fine_quantizer.codewords  # type: ignore[return-value]

    @property
    def coarse_centers(self) -> Optional[np.ndarray]:
        """np.ndarray or None: The coarse centers, PQ codes of shape=(nlist, M), dtype=np.uint8."""
        return None if self.nlist == 0 else self._index.centers

    @property
    def codes(self) -> Optional[np.ndarray]:
        """np.ndarray or None: The stored PQ codes, shape=(N, M), dtype=np.uint8, in the order added."""
        return None if self.N == 0 else self._index.codes

    @property
    def ids(self) -> np.ndarray:
        """np.ndarray: The id of each stored code (int64, in the order of :attr:`codes`)."""
        return self._index.ids

    @property
    def posting_lists(self) -> List[List[int]]:
        """list: ``posting_lists[l]`` holds the ids whose nearest coarse center is the l-th."""
        return self._index.posting_lists()

    @property
    def verbose(self) -> bool:
        """bool: Verbose flag. Rewritable."""
        return self._verbose

    @verbose.setter
    def verbose(self, v: bool) -> None:
        self.fine_quantizer.verbose = v
        self._verbose = bool(v)

    @property
    def L0(self) -> Optional[int]:
        """int or None: The average length of a posting list, ``int(round(N / nlist))``."""
        return None if self.nlist == 0 else int(np.round(self.N / self.nlist))

    # -- building ---------------------------------------------------------------
    def _log(self, line: str) -> None:
        if self._verbose:
            print(line)

    def reconfigure(self, nlist: Optional[int] = None, iter: int = 5, seed: int = 123) -> None:
        """Trains ``nlist`` coarse centers on the stored codes by PQk-means and
        rebuilds the posting lists (and :attr:`threshold`).

        Args:
            nlist (int): The number of posting lists; None means ``int(sqrt(N))``.
            iter (int): PQk-means iterations.
            seed (int): The seed of the sample and the start (rii has none; 123 is its own).
        """
        if self.N == 0:
            raise InputError("reconfigure needs codes: add vectors first")
        nlist = int(np.sqrt(self.N)) if nlist is None else as_int(nlist, "nlist", minimum=1)
        if not 0 < nlist <= self.N:
            raise InputError(f"nlist must be in [1, N={self.N}], got {nlist}")
        iterations = as_int(iter, "iter", minimum=1, maximum=SIZE_MAX)
        with core_errors():
            self._index.reconfigure(nlist, iterations, as_seed(seed), self._log if self._verbose else None)
        self.threshold = self._cost_threshold()

    def add(
        self,
        vecs: np.ndarray,
        update_posting_lists: Union[bool, str] = "auto",
        ids: Optional[np.ndarray] = None,
    ) -> None:
        """Encodes vectors and appends their codes; with ``update_posting_lists``
        (True, or 'auto' once there are lists) each joins its nearest list.

        Args:
            vecs (np.ndarray): shape=(Nv, D), dtype=np.float32.
            update_posting_lists (bool or str): True, False or 'auto'.
            ids (np.ndarray): optional int64 ids, one per vector, distinct and
                not in the index; by default one past the largest id so far
                (0, 1, 2, ... as rii).
        """
        vecs = as_float32(vecs, "vecs", (2,), finite=True)
        update = _update_flag(update_posting_lists, self.nlist)
        if update and self.nlist == 0:
            raise InputError(
                "reconfigure() must be called before add(vecs, update_posting_lists=True); "
                "for the first addition call add_configure(vecs)"
            )
        ids = _target_ids(ids, "ids")
        if ids is not None:
            if len(ids) != len(vecs):
                raise InputError(f"ids must hold one id per vector ({len(vecs)}), got {len(ids)}")
        codes = self.fine_quantizer.encode(vecs)
        self._add_codes(codes, update, ids)

    def add_codes(
        self,
        codes: np.ndarray,
        update_posting_lists: Union[bool, str] = "auto",
        ids: Optional[np.ndarray] = None,
    ) -> None:
        """:func:`add` for vectors already encoded by :attr:`fine_quantizer`
        (an encoding worker's output, a shard's codes).

        Args:
            codes (np.ndarray): shape=(Nv, M), dtype=fine_quantizer.code_dtype.
            update_posting_lists (bool or str): True, False or 'auto', as :func:`add`.
            ids (np.ndarray): optional int64 ids, as :func:`add`.
        """
        codes = _inner_pq(self.fine_quantizer)._own_codes(codes)
        update = _update_flag(update_posting_lists, self.nlist)
        if update and self.nlist == 0:
            raise InputError(
                "reconfigure() must be called before add_codes(codes, update_posting_lists=True)"
            )
        self._add_codes(codes, update, _target_ids(ids, "ids"))

    def _add_codes(self, codes: np.ndarray, update: bool, ids: Optional[np.ndarray]) -> None:
        check_allocation(codes.nbytes + 24 * len(codes), f"adding {len(codes)} codes")
        with core_errors():
            self._index.add(np.ascontiguousarray(codes, dtype=np.uint8), ids, update)
        self._log(f"{len(codes)} new vectors are added.\nTotal number of codes is {self.N}")

    def add_configure(self, vecs: np.ndarray, nlist: Optional[int] = None, iter: int = 5) -> "Rii":
        """:func:`add` without updating the lists, then :func:`reconfigure`. Returns self."""
        self.add(vecs=vecs, update_posting_lists=False)
        self.reconfigure(nlist=nlist, iter=iter)
        return self

    def merge(self, engine: "Rii", update_posting_lists: Union[bool, str] = "auto") -> None:
        """Appends the codes of another Rii with the same fine quantizer; they get
        new ids (one past the largest here, as rii numbers them). The lists keep
        their centers; :func:`reconfigure` after large merges."""
        if not isinstance(engine, Rii):
            raise InputError(f"engine must be a nanopq_cpp.Rii, got {type(engine).__name__}")
        if not self.fine_quantizer == engine.fine_quantizer:
            raise InputError("Two engines to be merged must have the same fine quantizer")
        if engine.N != 0:
            self._add_codes(engine._index.codes, _update_flag(update_posting_lists, self.nlist), None)
        self._log(f"The number of codes: {self.N}")

    def remove(self, ids: np.ndarray) -> None:
        """Deletes the rows of ``ids`` (distinct int64 ids in the index). The
        lists keep their centers."""
        checked = _target_ids(ids, "ids")
        if checked is None:
            raise DTypeError("ids must be a 1-D np.ndarray of dtype int64, got None")
        with core_errors():
            self._index.remove(checked)

    def clear(self) -> None:
        """Removes the codes, the lists and the threshold; keeps the codewords."""
        self.threshold = None
        self._index.clear()

    # -- searching --------------------------------------------------------------
    def _multiple_of_L0_covering_topk(self, topk: int) -> int:
        L0 = self.L0 or 1
        return min((topk // L0 + 1) * L0, self.N)

    def _use_linear(self, len_target_ids: int, L: int) -> bool:
        return self.threshold is None or bool(len_target_ids <= self.threshold(L))

    def _cost_threshold(self) -> np.poly1d:
        """The subset size below which reading the subset's rows costs less than
        the lists: the lists cost the coarse step (nlist codes) plus about L
        codes, the linear scan one code per target. A cost model rather than
        rii's timing, so the choice is the same on every run."""
        return np.poly1d([1.0, float(self.nlist)])

    def _resolve_L(self, topk: int, L: Any) -> int:
        if L is None:
            return self._multiple_of_L0_covering_topk(topk) if self.nlist else self.N
        candidates = as_int(L, "L", minimum=1)
        if not topk <= candidates <= self.N:
            raise InputError(
                f"Parameters are weird. Make sure topk<=L<=N:  topk={topk}, L={candidates}, N={self.N}"
            )
        return candidates

    def _method(self, method: str, n_targets: int, L: int) -> str:
        if method not in _METHODS:
            raise InputError(f"method must be 'auto', 'linear' or 'ivf', got {method!r}")
        if method == "auto":
            return "linear" if self.nlist == 0 or self._use_linear(n_targets, L) else "ivf"
        if method == "ivf" and self.nlist == 0:
            raise InputError("method 'ivf' needs posting lists: call reconfigure() or add_configure() first")
        return method

    def _search_space(
        self, queries: np.ndarray, topk: int, L: int, target_ids: Optional[np.ndarray], method: str
    ) -> Tuple[np.ndarray, np.ndarray]:
        """The search of (Nq, D) float32 queries already in the PQ's space (rotated, for OPQ)."""
        n_targets = self.N if target_ids is None else len(target_ids)
        chosen = self._method(method, n_targets, L)
        # l2 tables are made in the core, one query at a time: the same
        # entries as dtable's, to the bit. 'dot' tables come from numpy, as
        # dtable's do (its BLAS rounds its own way, docs/exactness.md).
        tables = (
            None
            if self.fine_quantizer.metric == "l2"
            else _inner_pq(self.fine_quantizer).dtable(queries).dtable
        )
        check_allocation(top_k_bytes(len(queries), topk, min(n_targets, L)), "the search results")
        with core_errors():
            return self._index.search(queries, tables, topk, L, target_ids, chosen)

    def search(
        self,
        queries: np.ndarray,
        topk: int = 1,
        L: Optional[int] = None,
        target_ids: Optional[np.ndarray] = None,
        method: str = "auto",
    ) -> Tuple[np.ndarray, np.ndarray]:
        """The ``topk`` nearest codes of every query of a batch, on all cores.

        Args:
            queries (np.ndarray): shape=(Nq, D) (or (D,) for one), dtype=np.float32.
            topk (int): results a query.
            L (int): candidates a query takes from the lists (rii's ``L``); by
                default the smallest multiple of :attr:`L0` that covers topk.
            target_ids (np.ndarray): search only these ids (1-D int64), any order.
            method (str): 'auto', 'linear' or 'ivf', as :func:`query`.

        Returns:
            (np.ndarray, np.ndarray): ids, shape=(Nq, topk) int64, and distances,
            shape=(Nq, topk) float32, best first; id -1 (and distance inf, or
            -inf for 'dot') where fewer than topk were found.
        """
        if self.N == 0:
            raise InputError("the index is empty: add vectors before searching")
        topk = as_int(topk, "topk", minimum=1)
        L = self._resolve_L(min(topk, self.N), L)
        target_ids = _target_ids(target_ids)
        batch = as_float32(queries, "queries", (1, 2), finite=True)
        if isinstance(self.fine_quantizer, OPQ):
            # Rotated as given (a vector or a matrix), as OPQ.dtable rotates it:
            # numpy's product of one vector and of a batch may round differently.
            batch = np.ascontiguousarray(self.fine_quantizer.rotate(batch), dtype=np.float32)
        batch = batch.reshape(-1, batch.shape[-1])
        ids, dists = self._search_space(batch, topk, L, target_ids, method)
        if np.ndim(queries) == 1:
            return ids[0], dists[0]
        return ids, dists

    def query(
        self,
        q: np.ndarray,
        topk: int = 1,
        L: Optional[int] = None,
        target_ids: Optional[np.ndarray] = None,
        sort_target_ids: bool = True,
        method: str = "auto",
    ) -> Tuple[np.ndarray, np.ndarray]:
        """rii's one-query search: the ``topk`` nearest codes to ``q``.

        Args:
            q (np.ndarray): shape=(D,), dtype=np.float32.
            topk (int): The number of results; None means N.
            L (int): candidates taken from the lists (see :func:`search`).
            target_ids (np.ndarray): search only these ids (1-D int64).
            sort_target_ids (bool): accepted for rii's interface; the ids need
                no order here.
            method (str): 'linear' (scan every target row), 'ivf' (the lists)
                or 'auto' (by :attr:`threshold`).

        Returns:
            (np.ndarray, np.ndarray): ids (int64) and distances (float64), best first.
        """
        if self.N == 0:
            raise InputError("the index is empty: add vectors before querying")
        if self.nlist == 0:
            raise InputError("posting lists are not made yet: call reconfigure() or add_configure() first")
        q = as_float32(q, "q", (1,), finite=True)
        topk = self.N if topk is None else as_int(topk, "topk", minimum=1)
        if topk > self.N:
            raise InputError(f"topk must be in [1, N={self.N}], got {topk}")
        L = self._resolve_L(topk, L)
        target_ids = _target_ids(target_ids)
        if target_ids is not None and not topk <= len(target_ids) <= self.N:
            raise InputError(
                "Parameters are weird. Make sure topk<=len(target_ids)<=N:  "
                f"topk={topk}, len(target_ids)={len(target_ids)}, N={self.N}"
            )
        ids, dists = self.search(q, topk=topk, L=L, target_ids=target_ids, method=method)
        found = ids >= 0
        return ids[found], dists[found].astype(np.float64)

    # -- reporting and state ----------------------------------------------------
    def print_params(self) -> None:
        """Prints the parameters and the state, as rii does."""
        print("verbose:", self.verbose)
        print("M:", self.M)
        print("Ks:", self.Ks)
        print("fine_quantizer:", self.fine_quantizer)
        print("N:", self.N)
        print("nlist:", self.nlist)
        print("L0:", self.L0)
        print("cordwords.shape:", self.codewords.shape)
        print("coarse_centers.shape:", None if self.nlist == 0 else (self.nlist, self.M))
        print("codes.shape:", None if self.N == 0 else (self.N, self.M))
        sizes = [len(plist) for plist in self.posting_lists]
        shown = ", ".join(str(size) for size in sizes[:11])
        print(f"[len(poslist) for poslist in posting_lists]: [{shown}{', ...' if len(sizes) > 11 else ''}]")
        for topk in 1, 10, 100:
            L = "None" if self.nlist == 0 else self._multiple_of_L0_covering_topk(topk)
            print(f"_multiple_of_L0_covering_topk(topk={topk}): {L}")
        print("threshold function thre_{|S|}=f(L):", self.threshold)
        for S in [10 ** (2 + n) for n in range(5)]:
            use_linear = None if self.threshold is None else self._use_linear(S, self.L0 or 1)
            print(f"_use_linear({S}, L={self.L0}): {use_linear}")

    # -- files --------------------------------------------------------------------
    def save(self, path: Union[str, "os.PathLike[str]"]) -> None:
        """Writes the index and its fine quantizer to ``path`` (replacing it
        atomically) in nanopq_cpp's index file format, which C++'s
        ``nanopq_cpp::load_index`` reads too (docs/model-format.md)."""
        model = to_bytes(self.fine_quantizer)
        with model_errors():
            _core.save_index_file(os.fspath(path), self._index, model)

    @classmethod
    def load(cls, path: Union[str, "os.PathLike[str]"], verbose: bool = False) -> "Rii":
        """The index in the index file at ``path`` (written by :func:`save` or C++'s ``save_index``).

        Raises:
            ModelFileError: the file is not a valid index file
            OSError: the file cannot be read
        """
        with model_errors():
            model, index = _core.load_index_file(os.fspath(path))
        kind, metric, codewords, rotation = model
        rii = cls.__new__(cls)
        rii.fine_quantizer = _build(kind, metric, codewords, rotation, verbose)
        rii._index = index
        rii._verbose = bool(verbose)
        rii.impl_cpp = _RiiCpp(rii)
        rii.threshold = rii._cost_threshold() if index.nlist > 0 else None
        return rii

    def __repr__(self) -> str:
        return f"Rii(M={self.M}, Ks={self.Ks}, N={self.N}, nlist={self.nlist})"

    def __getstate__(self) -> Dict[str, Any]:
        return {
            "nanopq_cpp_state": _STATE_VERSION,
            "fine_quantizer": self.fine_quantizer,
            "verbose": self._verbose,
            "threshold": None
            if self.threshold is None
            else np.asarray(self.threshold.coeffs, dtype=np.float64),
            "codes": self._index.codes,
            "ids": self._index.ids,
            "centers": self._index.centers,
            "row_lists": self._index.row_lists,
        }

    def __setstate__(self, state: Dict[str, Any]) -> None:
        check_state_version(state, "Rii", newest=_STATE_VERSION)
        for field in ("fine_quantizer", "verbose", "threshold", "codes", "ids", "centers", "row_lists"):
            if field not in state:
                raise InputError(f"a pickled Rii lacks its {field!r}")
        quantizer = state["fine_quantizer"]
        if not isinstance(quantizer, (PQ, OPQ)) or quantizer.codewords is None:
            raise InputError("a pickled Rii must hold a fitted nanopq_cpp.PQ or OPQ")
        self.fine_quantizer = quantizer
        codewords = _inner_pq(quantizer)._fitted_codewords("Rii")
        with core_errors():
            self._index = _core.Rii.restore(
                codewords,
                quantizer.metric,
                np.ascontiguousarray(state["codes"], dtype=np.uint8).reshape(-1, quantizer.M),
                np.ascontiguousarray(state["ids"], dtype=np.int64),
                np.ascontiguousarray(state["centers"], dtype=np.uint8).reshape(-1, quantizer.M),
                np.ascontiguousarray(state["row_lists"], dtype=np.int64),
            )
        self._verbose = bool(state["verbose"])
        threshold = state["threshold"]
        self.threshold = None if threshold is None else np.poly1d(threshold)
        self.impl_cpp = _RiiCpp(self)


class _RiiCpp:
    """rii's ``impl_cpp``: one-query searches of a query already in the PQ's
    space (rotated, for OPQ), returning lists of ints and floats as rii's does.
    An empty ``target_ids`` means all rows."""

    def __init__(self, owner: Rii) -> None:
        self._owner = owner

    def _run(
        self, query: np.ndarray, topk: int, target_ids: np.ndarray, L: int, method: str
    ) -> Tuple[List[int], List[float]]:
        owner = self._owner
        targets = _target_ids(target_ids)
        if targets is not None and len(targets) == 0:
            targets = None
        topk = as_int(topk, "topk", minimum=1)
        query = as_float32(query, "query", (1,), finite=True)
        ids, dists = owner._search_space(query[np.newaxis], topk, L, targets, method)
        found = ids[0] >= 0
        return ids[0][found].tolist(), dists[0][found].astype(np.float64).tolist()

    def query_linear(
        self, query: np.ndarray, topk: int, target_ids: np.ndarray
    ) -> Tuple[List[int], List[float]]:
        return self._run(query, topk, target_ids, max(int(topk), 1), "linear")

    def query_ivf(
        self, query: np.ndarray, topk: int, target_ids: np.ndarray, L: int
    ) -> Tuple[List[int], List[float]]:
        L = as_int(L, "L", minimum=1)
        if L < topk:
            raise InputError(f"L must be at least topk={topk}, got {L}")
        return self._run(query, topk, target_ids, L, "ivf")

    @property
    def N(self) -> int:
        return self._owner.N

    @property
    def nlist(self) -> int:
        return self._owner.nlist

    @property
    def verbose(self) -> bool:
        return self._owner.verbose

    @verbose.setter
    def verbose(self, v: bool) -> None:
        self._owner.verbose = v

    @property
    def posting_lists(self) -> List[List[int]]:
        return self._owner.posting_lists
