"""PackedCodes: PQ codes rearranged for the fast scan."""

from __future__ import annotations

from typing import Any, Dict

import numpy as np

from . import _core
from ._checks import as_int
from ._errors import InputError, core_errors

# Bumped whenever the pickled state changes shape; __setstate__ refuses newer ones.
PACKED_STATE_VERSION = 1


class PackedCodes:
    """PQ codes of ``Ks <= 256`` packed in SIMD blocks for the fast scan.

    Made by :func:`PQ.pack` or :func:`OPQ.pack`. ``DistanceTable.search``,
    ``DistanceTable.adist`` and ``PQ.search`` take them in place of the codes
    and return exactly what they return for the codes, faster where this CPU
    has a fast-scan kernel for the code width (``show_config()`` says which).
    ``Ks <= 16`` packs two codes a byte (half the memory of uint8 codes),
    ``16 < Ks <= 256`` one. The layout is described in
    cpp/include/nanopq_cpp/packed_codes.hpp.

    Args:
        data (np.ndarray): the packed bytes, 1-D uint8, as ``PackedCodes.data``
        N (int): the number of code rows
        M (int): codes per row (subspaces)
        Ks (int): codewords per subspace, 1 <= Ks <= 256

    Attributes:
        data (np.ndarray): the packed bytes (read-only)
        M (int): codes per row
        Ks (int): codewords per subspace
        nbytes (int): bytes of ``data``
    """

    def __init__(self, data: np.ndarray, N: int, M: int, Ks: int) -> None:
        self.M = as_int(M, "M", minimum=1)
        self.Ks = as_int(Ks, "Ks", minimum=1, maximum=256)
        self._n = as_int(N, "N", minimum=0)
        if not isinstance(data, np.ndarray) or data.ndim != 1 or data.dtype != np.uint8:
            got = getattr(data, "dtype", type(data).__name__)
            raise InputError(f"packed data must be a 1-D uint8 np.ndarray, got {got}, shape {np.shape(data)}")
        # A copy of our own, made read-only: the caller's array stays writable,
        # and the bytes checked now are the bytes searched later.
        data = np.array(data, copy=True, order="C")
        # The core checks the size against (N, M, Ks) and every code against Ks.
        with core_errors():
            _core.check_packed(data, self._n, self.M, self.Ks)
        data.flags.writeable = False
        self.data = data

    @classmethod
    def _from_core(cls, data: np.ndarray, N: int, M: int, Ks: int) -> "PackedCodes":
        """Wraps bytes that _core.pack just made, without checking them again."""
        packed = cls.__new__(cls)
        packed.M, packed.Ks, packed._n = M, Ks, N
        data.flags.writeable = False
        packed.data = data
        return packed

    def __len__(self) -> int:
        return self._n

    @property
    def nbytes(self) -> int:
        return int(self.data.nbytes)

    def unpack(self) -> np.ndarray:
        """The codes again.

        Returns:
            np.ndarray: codes with shape=(N, M) and dtype=np.uint8 (the code
            dtype of every Ks <= 256)
        """
        with core_errors():
            return _core.unpack(self.data, self._n, self.M, self.Ks)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PackedCodes):
            return False
        same_shape = (self._n, self.M, self.Ks) == (other._n, other.M, other.Ks)
        return same_shape and np.array_equal(self.unpack(), other.unpack())

    __hash__ = None  # type: ignore[assignment]  # compared by value

    def __repr__(self) -> str:
        return f"PackedCodes(N={self._n}, M={self.M}, Ks={self.Ks}, nbytes={self.nbytes})"

    # -- pickling: a versioned dict, checked again on load ---------------------
    def __getstate__(self) -> Dict[str, Any]:
        return {
            "nanopq_cpp_packed": PACKED_STATE_VERSION,
            "N": self._n,
            "M": self.M,
            "Ks": self.Ks,
            "data": self.data,
        }

    def __setstate__(self, state: Dict[str, Any]) -> None:
        if not isinstance(state, dict) or "nanopq_cpp_packed" not in state:
            raise InputError("this is not a pickled PackedCodes")
        version = state["nanopq_cpp_packed"]
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise InputError(f"this PackedCodes' pickled state is corrupted: version {version!r}")
        if version > PACKED_STATE_VERSION:
            raise InputError(
                f"these PackedCodes were pickled by a newer nanopq_cpp (state version {version}); "
                f"this version reads up to {PACKED_STATE_VERSION}: upgrade nanopq_cpp to load them"
            )
        missing = [field for field in ("N", "M", "Ks", "data") if field not in state]
        if missing:
            raise InputError(f"the pickled PackedCodes are missing {', '.join(missing)}")
        self.__init__(state["data"], state["N"], state["M"], state["Ks"])  # type: ignore[misc]
