"""Model file bytes, written and read by the C++ core (model_file.hpp).

The format is specified once, in docs/model-format.md. This module only moves
arrays and bytes between Python and the core's writer and reader, which check
every field, both checksums and the finiteness of every float (and which
tools/fuzz.sh fuzzes). PQ, OPQ and model_file build on it; it imports none of
them.
"""

from __future__ import annotations

import contextlib
import os
from typing import Iterator, NamedTuple, Optional, Tuple, Union

import numpy as np

from . import _core
from ._errors import ModelFileError

PathLike = Union[str, "os.PathLike[str]"]


class ModelHeader(NamedTuple):
    """The fields of a model file's header, after validation."""

    format_version: int
    kind: str  # "PQ" or "OPQ"
    metric: str
    M: int
    Ks: int
    Ds: int
    payload_bytes: int
    payload_crc32: int


@contextlib.contextmanager
def model_errors() -> Iterator[None]:
    try:
        yield
    except _core.ModelFileError as error:
        raise ModelFileError(str(error)) from None


def model_bytes(metric: str, codewords: np.ndarray, rotation: Optional[np.ndarray]) -> bytes:
    """The model file of a PQ (rotation None) or an OPQ, from checked float32 arrays."""
    with model_errors():
        return bytes(_core.model_to_bytes(metric, codewords, rotation))


def write_model(path: PathLike, metric: str, codewords: np.ndarray, rotation: Optional[np.ndarray]) -> None:
    """Writes the model file to `path`, replacing it atomically: a failed write
    (a full disk, say) raises OSError and leaves the old file as it was."""
    with model_errors():
        _core.save_model_file(os.fsdecode(path), metric, codewords, rotation)


def parse_model(data: bytes, source: str) -> Tuple[str, str, np.ndarray, Optional[np.ndarray]]:
    """(kind, metric, codewords, R or None) of the model in `data`."""
    with model_errors():
        kind, metric, codewords, rotation = _core.model_from_bytes(data, source)
    return kind, metric, codewords, rotation


def read_model_file(path: PathLike) -> Tuple[str, str, np.ndarray, Optional[np.ndarray]]:
    """(kind, metric, codewords, R or None) of the model file at `path`.

    The core reads it: the header first, the checksum streamed, the arrays last
    (about the model's size in memory, whatever the header claims). A FIFO,
    device or directory is refused, not waited on; a missing file raises
    FileNotFoundError.
    """
    with model_errors():
        kind, metric, codewords, rotation = _core.load_model_file(os.fsdecode(path))
    return kind, metric, codewords, rotation


def read_header(path: PathLike) -> ModelHeader:
    """The validated header of the model file at `path`; the arrays are not read."""
    with model_errors():
        return ModelHeader(*_core.read_model_header(os.fsdecode(path)))
