"""PackedCodes: PQ codes rearranged for the fast scan."""

from __future__ import annotations

from typing import Any, Dict

import numpy as np

from . import _core
from ._checks import SIZE_MAX, as_core_array, as_int
from ._errors import InputError, core_errors
from ._state import check_state_version

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
        data (np.ndarray): the packed bytes, a read-only view of the bytes the
            core owns (it cannot be made writable: copy it to change it)
        M (int): codes per row
        Ks (int): codewords per subspace
        nbytes (int): bytes of ``data``
    """

    def __init__(self, data: np.ndarray, N: int, M: int, Ks: int) -> None:
        n_rows = as_int(N, "N", minimum=0, maximum=SIZE_MAX)
        M = as_int(M, "M", minimum=1, maximum=SIZE_MAX)
        Ks = as_int(Ks, "Ks", minimum=1, maximum=256)
        if not isinstance(data, np.ndarray) or data.ndim != 1 or data.dtype != np.uint8:
            got = getattr(data, "dtype", type(data).__name__)
            raise InputError(f"packed data must be a 1-D uint8 np.ndarray, got {got}, shape {np.shape(data)}")
        # The core copies the bytes into an object of its own and checks them
        # there, against (N, M, Ks) and every code against Ks: the caller's
        # array stays as it was, and the bytes checked are the bytes searched.
        with core_errors():
            self._codes = _core.PackedCodes(as_core_array(data), n_rows, M, Ks)

    @classmethod
    def _from_core(cls, codes: "_core.PackedCodes") -> "PackedCodes":
        """Wraps packed codes that the core just made."""
        packed = cls.__new__(cls)
        packed._codes = codes
        return packed

    @property
    def M(self) -> int:
        return int(self._codes.M)

    @property
    def Ks(self) -> int:
        return int(self._codes.Ks)

    @property
    def data(self) -> np.ndarray:
        # Documented under Attributes in the class docstring.
        return self._codes.data

    def __len__(self) -> int:
        return int(self._codes.N)

    @property
    def nbytes(self) -> int:
        return int(self._codes.nbytes)

    def unpack(self) -> np.ndarray:
        """The codes again.

        Returns:
            np.ndarray: codes with shape=(N, M) and dtype=np.uint8 (the code
            dtype of every Ks <= 256)
        """
        with core_errors():
            return self._codes.unpack()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PackedCodes):
            return False
        same_shape = (len(self), self.M, self.Ks) == (len(other), other.M, other.Ks)
        return same_shape and np.array_equal(self.unpack(), other.unpack())

    __hash__ = None  # type: ignore[assignment]  # compared by value

    def __repr__(self) -> str:
        return f"PackedCodes(N={len(self)}, M={self.M}, Ks={self.Ks}, nbytes={self.nbytes})"

    # -- pickling: a versioned dict, checked again on load ---------------------
    def __getstate__(self) -> Dict[str, Any]:
        return {
            "nanopq_cpp_packed": PACKED_STATE_VERSION,
            "N": len(self),
            "M": self.M,
            "Ks": self.Ks,
            "data": self.data,
        }

    def __setstate__(self, state: Dict[str, Any]) -> None:
        check_state_version(state, "PackedCodes", field="nanopq_cpp_packed", newest=PACKED_STATE_VERSION)
        if "nanopq_cpp_packed" not in state:
            raise InputError("this is not a pickled PackedCodes")
        missing = [field for field in ("N", "M", "Ks", "data") if field not in state]
        if missing:
            raise InputError(f"the pickled PackedCodes are missing {', '.join(missing)}")
        self.__init__(state["data"], state["N"], state["M"], state["Ks"])  # type: ignore[misc]
