"""Pickled state: ours (versioned dicts), and nanopq 0.2.2's (plain __dict__s).

nanopq pickles name the classes ``nanopq.pq.PQ`` and ``nanopq.opq.OPQ``;
:func:`load_nanopq_pickle` maps them to ours so such a file loads without
nanopq installed.
"""

from __future__ import annotations

import io
import os
import pickle
import warnings
from typing import Any, Dict, Union

import numpy as np

from ._checks import as_core_array, as_int, check_metric, code_dtype_for
from ._errors import InputError

_PQ_FIELDS = ("M", "Ks", "metric", "verbose", "code_dtype", "codewords", "Ds")


def _check_version(state: Dict[str, Any], kind: str) -> None:
    from .pq import STATE_VERSION

    version = state.get("nanopq_cpp_state")
    if version is not None and (not isinstance(version, int) or isinstance(version, bool) or version < 1):
        raise InputError(
            f"this {kind}'s pickled state is corrupted: state version {version!r} is not a positive int"
        )
    if version is not None and version > STATE_VERSION:
        raise InputError(
            f"this {kind} was pickled by a newer nanopq_cpp (state version {version!r}); "
            f"this version reads up to {STATE_VERSION}: upgrade nanopq_cpp to load it"
        )


def _as_array(value: Any, name: str) -> np.ndarray:
    """A pickled array, or InputError if the value cannot be one (e.g. ragged lists)."""
    try:
        # numpy >= 1.24 refuses ragged lists; older versions make an object
        # array of them, with a VisibleDeprecationWarning. Refused either way.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Creating an ndarray from ragged nested sequences")
            array = np.asarray(value)
    except (TypeError, ValueError) as error:
        raise InputError(f"the pickled {name} is not an array: {error}") from None
    if array.dtype == object:
        raise InputError(f"the pickled {name} is not an array: it holds ragged or non-numeric elements")
    return array


def restore_pq_state(pq: Any, state: Dict[str, Any]) -> None:
    """Fills a PQ from our state dict or from a nanopq 0.2.2 ``__dict__``, checking it."""
    if not isinstance(state, dict):
        raise InputError(f"a pickled PQ holds a dict, got {type(state).__name__}")
    _check_version(state, "PQ")
    missing = [field for field in _PQ_FIELDS if field not in state]
    if missing:
        raise InputError(f"the pickled PQ is missing {', '.join(missing)}")
    pq.M = as_int(state["M"], "M", minimum=1)
    pq.Ks = as_int(state["Ks"], "Ks", minimum=1, maximum=2**32)
    pq.metric = check_metric(state["metric"])
    pq.verbose = bool(state["verbose"])
    pq.code_dtype = code_dtype_for(pq.Ks)
    try:
        pickled_code_dtype = np.dtype(state["code_dtype"])
    except (TypeError, ValueError, KeyError):  # not a dtype at all, e.g. a tampered string
        pickled_code_dtype = None
    if pickled_code_dtype != np.dtype(pq.code_dtype):
        raise InputError(f"the pickled code_dtype {state['code_dtype']!r} does not match Ks={pq.Ks}")
    pq.Ds = None if state["Ds"] is None else as_int(state["Ds"], "Ds", minimum=1)
    codewords = state["codewords"]
    if codewords is not None:
        codewords = _as_array(codewords, "codewords")
        if codewords.dtype.kind != "f" or codewords.shape != (pq.M, pq.Ks, pq.Ds):
            raise InputError(
                f"the pickled codewords must be floats of shape (M, Ks, Ds)={(pq.M, pq.Ks, pq.Ds)}, "
                f"got {codewords.dtype} {codewords.shape}"
            )
        codewords = as_core_array(codewords, np.float32)
    pq.codewords = codewords


def restore_opq_state(opq: Any, state: Dict[str, Any]) -> None:
    """Fills an OPQ from our state dict or from a nanopq 0.2.2 ``__dict__``."""
    from .pq import PQ

    if not isinstance(state, dict):
        raise InputError(f"a pickled OPQ holds a dict, got {type(state).__name__}")
    _check_version(state, "OPQ")
    if not isinstance(state.get("pq"), PQ):
        raise InputError("the pickled OPQ has no PQ inside")
    rotation = state.get("R")
    if rotation is not None:
        rotation = _as_array(rotation, "R")
        D = state["pq"].M * state["pq"].Ds if state["pq"].Ds is not None else None
        if rotation.dtype.kind != "f" or rotation.ndim != 2 or rotation.shape[0] != rotation.shape[1]:
            raise InputError(
                f"the pickled R must be a square float matrix, got {rotation.dtype} {rotation.shape}"
            )
        if D is not None and rotation.shape != (D, D):
            raise InputError(f"the pickled R must have shape (D, D)={(D, D)}, got {rotation.shape}")
        rotation = as_core_array(rotation, np.float32)
    opq.pq = state["pq"]
    opq.R = rotation


class _NanopqUnpickler(pickle.Unpickler):
    """Resolves nanopq's class paths to nanopq_cpp's classes."""

    def find_class(self, module: str, name: str) -> Any:
        if module.split(".")[0] == "nanopq":
            from . import opq, pq

            classes = {"PQ": pq.PQ, "DistanceTable": pq.DistanceTable, "OPQ": opq.OPQ}
            if name in classes:
                return classes[name]
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
