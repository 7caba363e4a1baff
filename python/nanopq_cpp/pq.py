"""Product quantization (PQ) with nanopq's interface."""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Tuple, Union, cast

import numpy as np

from . import _core
from ._checks import (
    SIZE_MAX,
    all_finite,
    as_codes,
    as_core_array,
    as_float32,
    as_int,
    as_seed,
    check_allocation,
    check_metric,
    code_dtype_for,
    kmeans_init,
    training_vectors,
)
from ._errors import DTypeError, InputError, NotFittedError, core_errors
from ._shorthands import QuantizerShorthands
from ._state import STATE_VERSION, restore_pq_state
from .distance_table import DistanceTable
from .packed import PackedCodes


def _progress_printer(verbose: bool) -> Optional[Callable[[str], None]]:
    return print if verbose else None


class PQ(QuantizerShorthands):
    """Product Quantization (PQ) [Jegou11]_ on a C++ core.

    For the indexing phase of database vectors, a `D`-dim input vector is
    divided into `M` `D`/`M`-dim sub-vectors. Each sub-vector is quantized into
    a small integer via `Ks` codewords. For the querying phase, given a new
    `D`-dim query vector, the distance between the query and the database
    PQ-codes is approximated via Asymmetric Distance.

    All vectors must be np.ndarray with np.float32.

    .. [Jegou11] Jegou, Douze and Schmid, "Product Quantization for Nearest Neighbor Search", IEEE TPAMI 2011

    Args:
        M (int): The number of sub-spaces
        Ks (int): The number of codewords for each subspace (typically 256, so
            that each sub-vector is quantized into 8 bits = 1 byte = uint8)
        metric (str): 'l2' or 'dot'. Even for 'dot', k-means and encoding are
            performed in Euclidean space; the metric changes distance tables.
        verbose (bool): Print progress

    Attributes:
        M (int): The number of sub-spaces
        Ks (int): The number of codewords for each subspace
        metric (str): 'l2' or 'dot'
        verbose (bool): Verbose flag
        code_dtype (type): dtype of PQ-codes: np.uint8, np.uint16 or np.uint32
        codewords (np.ndarray): shape=(M, Ks, Ds), dtype=np.float32;
            codewords[m][ks] is the ks-th codeword of the m-th subspace
        Ds (int): The dim of each sub-vector, i.e., Ds=D/M
    """

    def __init__(self, M: int, Ks: int = 256, metric: str = "l2", verbose: bool = True) -> None:
        self.M = as_int(M, "M", minimum=1, maximum=SIZE_MAX)
        self.Ks = as_int(Ks, "Ks", minimum=1, maximum=2**32)
        self.metric = check_metric(metric)
        self.verbose = verbose
        self.code_dtype = code_dtype_for(self.Ks)
        self.codewords: Optional[np.ndarray] = None
        self.Ds: Optional[int] = None
        if verbose:
            dtype_name = np.dtype(self.code_dtype).name
            print(f"M: {self.M}, Ks: {self.Ks}, metric: {self.metric}, code_dtype: {dtype_name}")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PQ):
            return False
        mine = (self.M, self.Ks, self.metric, self.verbose, self.code_dtype, self.Ds)
        theirs = (other.M, other.Ks, other.metric, other.verbose, other.code_dtype, other.Ds)
        return mine == theirs and np.array_equal(cast(Any, self.codewords), cast(Any, other.codewords))

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value

    def __repr__(self) -> str:
        state = "fitted" if self.codewords is not None else "not fitted"
        return f"PQ(M={self.M}, Ks={self.Ks}, metric={self.metric!r}, Ds={self.Ds}, {state})"

    # -- pickling: a versioned dict of plain values and arrays ------------------
    def __getstate__(self) -> Dict[str, Any]:
        return {
            "nanopq_cpp_state": STATE_VERSION,
            "M": self.M,
            "Ks": self.Ks,
            "metric": self.metric,
            "verbose": self.verbose,
            "code_dtype": np.dtype(self.code_dtype).name,
            "codewords": self.codewords,
            "Ds": self.Ds,
        }

    def __setstate__(self, state: Dict[str, Any]) -> None:
        restore_pq_state(self, state)

    # -- training ---------------------------------------------------------------
    def fit(
        self,
        vecs: np.ndarray,
        iter: int = 20,
        seed: Optional[int] = 123,
        minit: Union[str, np.ndarray] = "points",
    ) -> "PQ":
        """Given training vectors, run k-means for each sub-space and create
        codewords for each sub-space.

        Subspaces train in parallel; the result depends only on the data, the
        arguments and the seed (not on the thread count), and numpy's global
        random state is left alone.

        Args:
            vecs (np.ndarray): Training vectors with shape=(N, D) and dtype=np.float32.
            iter (int): The number of k-means (Lloyd) iterations
            seed (int): The seed for random processes
            minit (str or np.ndarray): Initialization of the centroids: 'points'
                (random distinct training vectors), 'random' (Gaussian samples
                with the data's mean and covariance), '++' (k-means++), or an
                array of shape (M, Ks, Ds) holding starting codewords.

        Returns:
            PQ: self
        """
        vecs = training_vectors(vecs, self.M, more_than=self.Ks)
        D = vecs.shape[1]
        iterations = as_int(iter, "iter", minimum=1, maximum=SIZE_MAX)
        seed_value = as_seed(seed)
        Ds = D // self.M
        init_name, initial = kmeans_init(minit, self.M, self.Ks, Ds)
        if self.verbose:
            print(f"iter: {iterations}, seed: {seed}")
        with core_errors():
            codewords = _core.train_codewords(
                vecs,
                self.M,
                self.Ks,
                iterations,
                seed_value,
                init_name,
                initial,
                _progress_printer(self.verbose),
            )
        self.Ds = Ds
        self.codewords = codewords
        return self

    # -- using a fitted quantizer ----------------------------------------------
    def _fitted_codewords(self, action: str) -> np.ndarray:
        """The codewords as the core takes them, after checking they fit M, Ks and Ds."""
        if self.codewords is None or self.Ds is None:
            raise NotFittedError(f"codewords and Ds must be set by fit() before {action}()")
        codewords = self.codewords
        if not isinstance(codewords, np.ndarray) or codewords.dtype.kind != "f":
            raise DTypeError(
                f"codewords must be a float32 np.ndarray of shape (M, Ks, Ds), got "
                f"{getattr(codewords, 'dtype', type(codewords).__name__)}"
            )
        expected = (self.M, self.Ks, self.Ds)
        if codewords.shape != expected:
            raise InputError(f"codewords must have shape (M, Ks, Ds)={expected}, got {codewords.shape}")
        if codewords.dtype != np.float32 or not (codewords.flags.c_contiguous and codewords.flags.aligned):
            check_allocation(codewords.size * 4, "a contiguous float32 copy of the codewords")
        codewords = as_core_array(codewords, np.float32)
        # One pass over M*Ks*Ds values: a NaN codeword would otherwise never be
        # chosen by encode and poison every distance table silently.
        if not all_finite(codewords):
            raise InputError("codewords contain NaN or infinity; refit or fix them before use")
        return codewords

    def _check_dim(self, D: int, name: str, codewords: np.ndarray) -> None:
        expected = codewords.shape[2] * self.M  # Ds * M, from codewords already checked against Ds
        if D != expected:
            raise InputError(f"{name} dimension must be Ds * M = {expected}, got {D}")

    def encode(self, vecs: np.ndarray) -> np.ndarray:
        """Encode input vectors into PQ-codes.

        Args:
            vecs (np.ndarray): Input vectors with shape=(N, D) and dtype=np.float32.

        Returns:
            np.ndarray: PQ codes with shape=(N, M) and dtype=self.code_dtype
        """
        codewords = self._fitted_codewords("encode")
        vecs = as_float32(vecs, "vecs", (2,), finite=True)
        self._check_dim(vecs.shape[1], "vecs", codewords)
        code_bytes = np.dtype(code_dtype_for(self.Ks)).itemsize
        # The core holds a transposed copy of the codebook next to the codes.
        check_allocation(len(vecs) * self.M * code_bytes + codewords.nbytes, f"encoding {len(vecs)} vectors")
        with core_errors():
            return _core.encode(vecs, codewords, _progress_printer(self.verbose and len(vecs) >= 100_000))

    def _own_codes(self, codes: np.ndarray) -> np.ndarray:
        """`codes` checked as this quantizer's: dtype code_dtype, shape (N, M) (as_codes says what else)."""
        if isinstance(codes, np.ndarray) and codes.dtype != self.code_dtype:
            raise DTypeError(
                f"codes must have dtype {np.dtype(self.code_dtype).name} (this quantizer's code_dtype), "
                f"got {codes.dtype}"
            )
        return as_codes(codes, self.M, self.Ks)

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """Given PQ-codes, reconstruct original D-dimensional vectors
        approximately by fetching the codewords.

        Args:
            codes (np.ndarray): PQ-codes with shape=(N, M) and dtype=self.code_dtype.
                Each row is a PQ-code

        Returns:
            np.ndarray: Reconstructed vectors with shape=(N, D) and dtype=np.float32
        """
        codewords = self._fitted_codewords("decode")
        codes = self._own_codes(codes)
        check_allocation(len(codes) * self.M * codewords.shape[2] * 4, f"the {len(codes)} decoded vectors")
        with core_errors():
            return _core.decode(codes, codewords)

    def pack(self, codes: np.ndarray) -> PackedCodes:
        """Pack PQ-codes for the fast scan (Ks <= 256).

        ``dtable(query).search(packed, topk)`` then returns exactly what it
        returns for `codes` (the same ids and distances), faster where this CPU
        has a fast-scan kernel for the code width (see ``show_config()``), and
        ``packed.unpack()`` gives `codes` back. Ks <= 16 packs two codes a
        byte. Packing needs no codewords, only M and Ks.

        Args:
            codes (np.ndarray): PQ-codes with shape=(N, M) and dtype=self.code_dtype.

        Returns:
            nanopq_cpp.PackedCodes: the packed codes
        """
        if self.Ks > 256:
            raise InputError(f"pack needs Ks <= 256 (codes of 4 or 8 bits), this quantizer has Ks={self.Ks}")
        codes = self._own_codes(codes)
        with core_errors():
            packed = _core.PackedCodes.pack(codes, self.Ks)
        return PackedCodes._from_core(packed)

    def dtable(self, query: np.ndarray) -> DistanceTable:
        """Compute a distance table for a query vector (or a batch of them).

        dtable[m][ks] contains the squared Euclidean distance ('l2') or the
        inner product ('dot') between the m-th sub-vector of the query and the
        ks-th codeword of the m-th subspace (self.codewords[m][ks]).

        Args:
            query (np.ndarray): A vector with shape=(D, ) or a batch with
                shape=(Nq, D), dtype=np.float32

        Returns:
            nanopq_cpp.DistanceTable: tables with shape=(M, Ks), or
            (Nq, M, Ks) for a batch, dtype=np.float32
        """
        codewords = self._fitted_codewords("dtable")
        # A NaN or infinite query gives NaN table entries ('dot': inf * 0),
        # and then distances and rankings that mean nothing.
        query = as_float32(query, "query", (1, 2), finite=True)
        self._check_dim(query.shape[-1], "query", codewords)
        n_queries = 1 if query.ndim == 1 else len(query)
        table_shape = f"{n_queries} x M={self.M} x Ks={self.Ks}"
        check_allocation(n_queries * self.M * self.Ks * 4, f"the distance tables ({table_shape} float32)")
        queries = query.reshape(n_queries, query.shape[-1])
        if self.metric == "dot":
            # nanopq computes each row as q_m @ codewords[m].T, i.e. numpy's BLAS
            # sgemv, whose rounding depends on the BLAS kernel: only numpy itself
            # reproduces it. One stacked matmul makes that same call per (query,
            # subspace), so every table equals nanopq's to the bit (docs/exactness.md).
            sub_queries = queries.reshape(n_queries, self.M, codewords.shape[2], 1)
            with np.errstate(over="ignore"):  # an overflow is refused below, by name
                tables = np.matmul(codewords, sub_queries)[..., 0]
        else:
            with core_errors():
                tables = _core.distance_tables(queries, codewords, self.metric)
        # A finite query far from the codewords (|values| ~ 1e19 and up) can
        # still overflow float32 to inf; every row would then tie at inf and a
        # search return ids 0..k-1, meaning nothing. nanopq returns those inf
        # tables with a RuntimeWarning; we refuse them (docs/differences.md).
        if not all_finite(tables):
            raise InputError(
                f"query is too large for float32 distance tables: its {self.metric} distances to the "
                "codewords overflow to infinity; scale the vectors (and the codewords) down"
            )
        return DistanceTable(tables[0] if query.ndim == 1 else tables, metric=self.metric)

    def _model_arrays(self) -> Tuple[str, np.ndarray, None]:
        """(metric, codewords, no rotation): what a model file holds, checked."""
        return self.metric, self._fitted_codewords("save"), None
