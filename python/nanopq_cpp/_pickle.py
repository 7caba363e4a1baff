"""Loading nanopq 0.2.2's pickles without nanopq.

nanopq pickles name the classes ``nanopq.pq.PQ`` and ``nanopq.opq.OPQ``;
:func:`load_nanopq_pickle` maps them to ours, whose ``__setstate__`` reads
nanopq's plain ``__dict__``s (see ``_state``), so such a file loads without
nanopq installed.
"""

from __future__ import annotations

import io
import os
import pickle
from typing import Any, Union

from .distance_table import DistanceTable
from .opq import OPQ
from .pq import PQ

_CLASSES = {"PQ": PQ, "DistanceTable": DistanceTable, "OPQ": OPQ}


class _NanopqUnpickler(pickle.Unpickler):
    """Resolves nanopq's class paths to nanopq_cpp's classes."""

    def find_class(self, module: str, name: str) -> Any:
        if module.split(".")[0] == "nanopq" and name in _CLASSES:
            return _CLASSES[name]
        return super().find_class(module, name)


def load_nanopq_pickle(source: Union[str, "os.PathLike[str]", bytes, io.IOBase]) -> Any:
    """Loads a pickle written by nanopq 0.2.2 (or by nanopq_cpp) as nanopq_cpp objects.

    nanopq need not be installed. Only load pickles you trust: like
    ``pickle.load``, this can run code named in the file.

    Args:
        source: a path, the pickled bytes, or a binary file object

    Returns:
        the unpickled object, with nanopq's PQ/OPQ/DistanceTable replaced by nanopq_cpp's
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _NanopqUnpickler(io.BytesIO(bytes(source))).load()
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as stream:
            return _NanopqUnpickler(stream).load()
    return _NanopqUnpickler(source).load()
