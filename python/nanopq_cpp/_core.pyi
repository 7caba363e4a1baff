"""Type stub for nanopq_cpp's compiled core (cpp/bindings/_core.cpp).

Written by hand and kept in step with the bindings by tests/test_typing.py,
which compares every name and parameter list here with the runtime module.

The core re-checks only what could corrupt memory: arrays must already be
C-contiguous and of the dtype named below (in native byte order), or it raises
ValueError. Argument checking with nanopq's messages is the Python layer's job;
use the nanopq_cpp package, not this module.
"""

from typing import Any, Callable, SupportsIndex

import numpy as np
import numpy.typing as npt

__version__: str

# The core writes codes as uint8, uint16 or uint32, the narrowest that holds Ks
# values; it reads any of the three.
_Codes = npt.NDArray[np.unsignedinteger[Any]]
_Float32 = npt.NDArray[np.float32]
_Int64 = npt.NDArray[np.int64]
# Called with the GIL held, once per progress line (nanopq prints them).
_Log = Callable[[str], object] | None

def train_codewords(
    vecs: _Float32,
    M: SupportsIndex,
    Ks: SupportsIndex,
    iterations: SupportsIndex,
    seed: SupportsIndex,
    minit: str,
    initial: _Float32 | None = None,
    log: _Log = None,
) -> _Float32:
    """k-means codewords of shape (M, Ks, D / M) for (N, D) training vectors.

    `minit` is 'points', 'random', '++' or 'given' (then `initial` holds the
    starting codewords, of shape (M, Ks, D / M)).
    """

def encode(vecs: _Float32, codewords: _Float32, log: _Log = None) -> _Codes:
    """Codes of shape (N, M) for (N, D) vectors and (M, Ks, Ds) codewords."""

def decode(codes: _Codes, codewords: _Float32) -> _Float32:
    """Reconstructed vectors of shape (N, D) for (N, M) codes."""

def distance_tables(queries: _Float32, codewords: _Float32, metric: str) -> _Float32:
    """Tables of shape (Nq, M, Ks) for (Nq, D) queries; `metric` is 'l2' or 'dot'."""

def adist(dtables: _Float32, codes: _Codes) -> _Float32:
    """Distances of shape (Nq, N) from (Nq, M, Ks) tables to (N, M) codes."""

def search(
    dtables: _Float32,
    codes: _Codes,
    topk: SupportsIndex,
    metric: str,
    subset: _Int64 | None = None,
) -> tuple[_Int64, _Float32]:
    """Ids and distances of shape (Nq, topk), best first; -1 and +-inf fill missing slots."""

class PackedCodes:
    """Packed codes the core owns: checked when made, immutable after."""

    def __init__(
        self, data: npt.NDArray[np.uint8], N: SupportsIndex, M: SupportsIndex, Ks: SupportsIndex
    ) -> None:
        """Copies `data`; ValueError unless it is N x M packed codes, IndexError for a code >= Ks."""
    @staticmethod
    def pack(codes: _Codes, Ks: SupportsIndex) -> PackedCodes:
        """The (N, M) codes (each < Ks <= 256) packed for the fast scan."""
    @property
    def N(self) -> int: ...
    @property
    def M(self) -> int: ...
    @property
    def Ks(self) -> int: ...
    @property
    def nbytes(self) -> int: ...
    @property
    def data(self) -> npt.NDArray[np.uint8]:
        """A read-only view of the packed bytes."""
    def unpack(self) -> npt.NDArray[np.uint8]:
        """The (N, M) uint8 codes."""

def adist_packed(dtables: _Float32, packed: PackedCodes) -> _Float32:
    """Distances of shape (Nq, N) from (Nq, M, Ks) tables to the packed rows, as adist of the codes."""

def search_packed(
    dtables: _Float32,
    packed: PackedCodes,
    topk: SupportsIndex,
    metric: str,
    subset: _Int64 | None = None,
) -> tuple[_Int64, _Float32]:
    """search() over packed rows: the same ids and distances as for the codes."""

def fast_scan_paths() -> dict[str, str]:
    """What searching packed codes runs at the active level, for '4-bit' and '8-bit' codes."""

def merge_topk(
    ids: list[_Int64], distances: list[_Float32], topk: SupportsIndex, metric: str
) -> tuple[_Int64, _Float32]:
    """The top-k of shards' (Nq, k_i) results, shape (Nq, topk), as search gives it; -1 ids are skipped."""

def parametric_rotation(vecs: _Float32, M: SupportsIndex) -> _Float32:
    """OPQ's parametric rotation R of shape (D, D): the covariance's eigenvectors
    dealt to M subspaces by eigenvalue allocation."""

def train_opq(
    vecs: _Float32,
    M: SupportsIndex,
    Ks: SupportsIndex,
    pq_iterations: SupportsIndex,
    rotation_iterations: SupportsIndex,
    parametric_init: bool,
    seed: SupportsIndex,
    minit: str,
    initial: _Float32 | None = None,
    log: _Log = None,
) -> tuple[_Float32, _Float32]:
    """The rotation R of shape (D, D) and the codewords of shape (M, Ks, D / M).

    `minit` as for train_codewords; with 'given', `initial` starts every round.
    """

class ModelFileError(ValueError):
    """A model file or buffer the core's reader refuses, or a model it cannot write."""

def model_to_bytes(metric: str, codewords: _Float32, R: _Float32 | None = None) -> bytes:
    """The model file (docs/model-format.md) of a PQ, or of an OPQ when R is given."""

def model_from_bytes(data: bytes, source: str) -> tuple[str, str, _Float32, _Float32 | None]:
    """(kind 'PQ' or 'OPQ', metric, codewords, R or None) of a whole model file."""

def load_model_file(path: str) -> tuple[str, str, _Float32, _Float32 | None]:
    """(kind, metric, codewords, R or None) of the model file at `path`, in bounded memory."""

def save_model_file(path: str, metric: str, codewords: _Float32, R: _Float32 | None = None) -> None:
    """Writes a PQ (or an OPQ when R is given) to `path`, replacing it atomically."""

def read_model_header(path: str) -> tuple[int, str, str, int, int, int, int, int]:
    """(format version, kind, metric, M, Ks, Ds, payload bytes, payload CRC-32) of the file at `path`."""

def get_simd_level() -> str:
    """'scalar', 'avx2', 'avx512' or 'neon': the kernels in use now."""

def set_simd_level(level: str) -> None:
    """Forces a level by name; ValueError if this CPU or build cannot run it."""

def best_simd_level() -> str:
    """The fastest level this CPU and build can run (the default)."""

def supported_simd_levels() -> list[str]:
    """The levels this CPU and build can run, from slowest to fastest."""

def get_num_threads() -> int:
    """The number of threads long calls use."""

def set_num_threads(n: SupportsIndex) -> None:
    """Sets the thread count; 0 restores the default."""
