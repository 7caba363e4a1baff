"""Pickled state of PQ and OPQ: our versioned dicts, and nanopq 0.2.2's plain
``__dict__``s, checked before they become a quantizer's attributes.

PQ and OPQ import this module (for ``__setstate__``); it imports neither.
"""

from __future__ import annotations

import warnings
from typing import Any, Dict, Optional

import numpy as np

from ._checks import SIZE_MAX, as_core_array, as_int, check_metric, code_dtype_for
from ._errors import InputError

# Bumped whenever the pickled state changes shape; __setstate__ refuses newer ones.
STATE_VERSION = 1

_PQ_FIELDS = ("M", "Ks", "metric", "verbose", "code_dtype", "codewords", "Ds")


def check_state_version(
    state: Dict[str, Any], kind: str, field: str = "nanopq_cpp_state", newest: int = STATE_VERSION
) -> None:
    """Refuses a state dict that is not one, or is of a newer nanopq_cpp than
    this one. `field` holds the version (absent in a state nanopq made);
    `newest` is the newest version this nanopq_cpp reads."""
    if not isinstance(state, dict):
        raise InputError(f"a pickled {kind} holds a dict, got {type(state).__name__}")
    version = state.get(field)
    if version is not None and (not isinstance(version, int) or isinstance(version, bool) or version < 1):
        raise InputError(
            f"this {kind}'s pickled state is corrupted: state version {version!r} is not a positive int"
        )
    if version is not None and version > newest:
        raise InputError(
            f"this {kind} was pickled by a newer nanopq_cpp (state version {version!r}); "
            f"this version reads up to {newest}: upgrade nanopq_cpp to load it"
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
    check_state_version(state, "PQ")
    missing = [field for field in _PQ_FIELDS if field not in state]
    if missing:
        raise InputError(f"the pickled PQ is missing {', '.join(missing)}")
    pq.M = as_int(state["M"], "M", minimum=1, maximum=SIZE_MAX)
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
    pq.Ds = None if state["Ds"] is None else as_int(state["Ds"], "Ds", minimum=1, maximum=SIZE_MAX)
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


def pickled_rotation(rotation: Any, D: Optional[int]) -> Optional[np.ndarray]:
    """An OPQ's pickled R as a float32 array, checked to be (D, D) (None stays None)."""
    if rotation is None:
        return None
    rotation = _as_array(rotation, "R")
    if rotation.dtype.kind != "f" or rotation.ndim != 2 or rotation.shape[0] != rotation.shape[1]:
        raise InputError(
            f"the pickled R must be a square float matrix, got {rotation.dtype} {rotation.shape}"
        )
    if D is not None and rotation.shape != (D, D):
        raise InputError(f"the pickled R must have shape (D, D)={(D, D)}, got {rotation.shape}")
    return as_core_array(rotation, np.float32)
