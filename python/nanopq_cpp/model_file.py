"""Model files: trained PQ and OPQ models in one binary format shared with C++.

``pq.save(path)`` writes a file that ``nanopq_cpp.load(path)`` and the C++
``nanopq_cpp::load_model(path)`` read, and the other way round: train in Python,
serve from a C++ program. Unlike a pickle, a model file holds numbers only and
loading one runs no code. The format is specified in docs/model-format.md; the
C++ core writes and reads it for both languages.
"""

from __future__ import annotations

from typing import Optional, Union

import numpy as np

from ._errors import InputError
from ._model_bytes import ModelHeader, PathLike, model_bytes, parse_model, read_header, read_model_file
from .opq import OPQ
from .pq import PQ

Quantizer = Union[PQ, OPQ]

__all__ = ["ModelHeader", "from_bytes", "load", "read_header", "save", "to_bytes"]


def _build(
    kind: str, metric: str, codewords: np.ndarray, rotation: Optional[np.ndarray], verbose: bool
) -> Quantizer:
    M, Ks, Ds = codewords.shape
    pq = PQ(M, Ks, metric=metric, verbose=verbose)
    pq.Ds, pq.codewords = Ds, codewords
    if kind == "PQ":
        return pq
    opq = OPQ(M, Ks, metric=metric, verbose=verbose)
    opq.pq, opq.R = pq, rotation
    return opq


def _checked(quantizer: Quantizer) -> Quantizer:
    if not isinstance(quantizer, (PQ, OPQ)):
        raise InputError(
            f"only nanopq_cpp.PQ and nanopq_cpp.OPQ can be saved, got {type(quantizer).__name__}"
        )
    return quantizer


def to_bytes(quantizer: Quantizer) -> bytes:
    """The model file bytes of a fitted PQ or OPQ.

    Raises:
        NotFittedError: the quantizer has not been fitted
        InputError: its codewords or rotation are malformed or not finite
    """
    return model_bytes(*_checked(quantizer)._model_arrays())


def save(quantizer: Quantizer, path: PathLike) -> None:
    """Write a fitted PQ or OPQ to `path` (replacing it) in nanopq_cpp's model file format.

    Args:
        quantizer (PQ or OPQ): a fitted quantizer
        path (str or os.PathLike): where to write
    """
    _checked(quantizer).save(path)


def from_bytes(data: Union[bytes, bytearray, memoryview], verbose: bool = False) -> Quantizer:
    """The PQ or OPQ held in model file bytes (see :func:`to_bytes`).

    Raises:
        ModelFileError: the bytes are not a valid model file
    """
    return _build(*parse_model(bytes(data), "model bytes"), verbose)


def load(path: PathLike, verbose: bool = False) -> Quantizer:
    """Read a PQ or OPQ from a model file written by :func:`save` or by C++'s ``save_model``.

    Args:
        path (str or os.PathLike): the model file
        verbose (bool): the loaded quantizer's verbose flag

    Returns:
        PQ or OPQ: the fitted quantizer the file holds

    Raises:
        ModelFileError: the file is not a nanopq_cpp model file, is truncated or
            corrupted, or has a newer format version than this nanopq_cpp reads
        OSError: the file cannot be opened
    """
    return _build(*read_model_file(path), verbose)
