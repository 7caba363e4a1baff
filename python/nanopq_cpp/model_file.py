"""Model files: trained PQ and OPQ models in one binary format shared with C++.

``pq.save(path)`` writes a file that ``nanopq_cpp.load(path)`` and the C++
``nanopq_cpp::load_model(path)`` read, and the other way round: train in Python,
serve from a C++ program. Unlike a pickle, a model file holds numbers only and
loading one runs no code.

Format version 1, little-endian (docs/model-format.md has the full
specification; cpp/include/nanopq_cpp/model_file.hpp is the C++ side)::

    offset size  field
         0    8  magic b"\\x89NPQ\\r\\n\\x1a\\n"
         8    4  u32 format version (1)
        12    4  u32 kind: 1 = PQ, 2 = OPQ
        16    4  u32 metric: 0 = l2, 1 = dot
        20    4  u32 reserved, 0
        24    8  u64 M
        32    8  u64 Ks
        40    8  u64 Ds
        48    8  u64 payload size in bytes: 4 * (M*Ks*Ds + (OPQ ? D*D : 0)), D = M*Ds
        56    4  u32 CRC-32 of the payload (zlib.crc32)
        60    4  u32 CRC-32 of bytes 0-59
        64       payload: codewords float32 (M, Ks, Ds), then for OPQ R float32 (D, D)

The checks on loading, and their messages, are those of the C++ reader.
"""

from __future__ import annotations

import os
import struct
import zlib
from typing import TYPE_CHECKING, NamedTuple, Optional, Tuple, Union

import numpy as np

from ._errors import InputError, ModelFileError

if TYPE_CHECKING:  # pq.py and opq.py import this module, so the classes are imported lazily
    from .opq import OPQ
    from .pq import PQ

MAGIC = b"\x89NPQ\r\n\x1a\n"
FORMAT_VERSION = 1
HEADER_BYTES = 64

_HEADER = struct.Struct("<8sIIIIQQQQII")
_KINDS = {1: "PQ", 2: "OPQ"}
_METRICS = ("l2", "dot")

Quantizer = Union["PQ", "OPQ"]
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


def _payload_bytes(kind: str, M: int, Ks: int, Ds: int) -> int:
    D = M * Ds
    return 4 * (M * Ks * Ds + (D * D if kind == "OPQ" else 0))


def _arrays_of(quantizer: Quantizer) -> Tuple[str, PQ, np.ndarray, Optional[np.ndarray]]:
    """(kind, its PQ, codewords, rotation or None), checked as fit() leaves them."""
    from .opq import OPQ
    from .pq import PQ

    if isinstance(quantizer, OPQ):
        rotation = quantizer._rotation("save")
        pq = quantizer.pq
        kind = "OPQ"
    elif isinstance(quantizer, PQ):
        rotation, pq, kind = None, quantizer, "PQ"
    else:
        raise InputError(
            f"only nanopq_cpp.PQ and nanopq_cpp.OPQ can be saved, got {type(quantizer).__name__}"
        )
    # Both accessors check shapes and refuse NaN or infinity, as at any use.
    codewords = pq._fitted_codewords("save")
    return kind, pq, codewords, rotation


def to_bytes(quantizer: Quantizer) -> bytes:
    """The model file bytes of a fitted PQ or OPQ.

    Raises:
        NotFittedError: the quantizer has not been fitted
        InputError: its codewords or rotation are malformed or not finite
    """
    kind, pq, codewords, rotation = _arrays_of(quantizer)
    payload = codewords.astype("<f4", copy=False).tobytes()
    if rotation is not None:
        payload += np.ascontiguousarray(rotation, dtype="<f4").tobytes()
    kind_code = 1 if kind == "PQ" else 2
    metric_code = _METRICS.index(pq.metric)
    fields = (MAGIC, FORMAT_VERSION, kind_code, metric_code, 0, pq.M, pq.Ks, pq.Ds, len(payload))
    head = _HEADER.pack(*fields, zlib.crc32(payload), 0)[:60]
    return head + struct.pack("<I", zlib.crc32(head)) + payload


def save(quantizer: Quantizer, path: PathLike) -> None:
    """Write a fitted PQ or OPQ to `path` (replacing it) in nanopq_cpp's model file format.

    Args:
        quantizer (PQ or OPQ): a fitted quantizer
        path (str or os.PathLike): where to write
    """
    data = to_bytes(quantizer)
    with open(path, "wb") as stream:
        stream.write(data)


def _parse_header(head: bytes, total_size: int, source: str) -> ModelHeader:
    """Validates a header; the checks and their order are those of the C++ reader,
    so a foreign file is called foreign and a newer one newer, not corrupted."""

    def fail(problem: str) -> ModelFileError:
        return ModelFileError(f"{source}: {problem}")

    truncated_header = (
        f"truncated: {total_size} bytes, but a model file starts with a {HEADER_BYTES}-byte header"
    )
    if head[: len(MAGIC)] != MAGIC[: len(head)]:
        raise fail(
            "not a nanopq_cpp model file (it does not start with the magic bytes \\x89NPQ\\r\\n\\x1a\\n)"
        )
    if len(head) < 12:
        raise fail(truncated_header)
    (version,) = struct.unpack_from("<I", head, 8)
    if version == 0:
        raise fail("invalid model format version 0")
    if version > FORMAT_VERSION:
        from ._core import __version__

        raise fail(
            f"model format version {version} is newer than this nanopq_cpp ({__version__}) reads "
            f"(version {FORMAT_VERSION} and older); upgrade nanopq_cpp to load it"
        )
    if len(head) < HEADER_BYTES:
        raise fail(truncated_header)
    _, _, kind_code, metric_code, reserved, M, Ks, Ds, payload_bytes, payload_crc, header_crc = (
        _HEADER.unpack(head)
    )
    if zlib.crc32(head[:60]) != header_crc:
        raise fail("corrupted header (checksum mismatch)")
    if kind_code not in _KINDS:
        raise fail(f"unknown model kind {kind_code} (1 = PQ, 2 = OPQ)")
    if metric_code > 1:
        raise fail(f"unknown metric {metric_code} (0 = l2, 1 = dot)")
    if reserved != 0:
        raise fail(f"reserved header field is {reserved}, expected 0")
    kind = _KINDS[kind_code]
    shape = f"M={M}, Ks={Ks}, Ds={Ds}"
    if M == 0 or Ks == 0 or Ds == 0:
        raise fail(f"M, Ks and Ds must be positive, got {shape}")
    if Ks > 2**32:
        raise fail(f"Ks={Ks} is more than 2**32")
    expected_payload = _payload_bytes(kind, M, Ks, Ds)
    if expected_payload > 2**64 - 1 - HEADER_BYTES:  # Python ints do not overflow; the C++ reader's u64 would
        raise fail(f"the model size overflows for {shape}")
    if payload_bytes != expected_payload:
        raise fail(
            f"inconsistent header: it gives the arrays {payload_bytes} bytes, "
            f"but {kind} {shape} needs {expected_payload}"
        )
    expected_size = HEADER_BYTES + expected_payload
    if total_size < expected_size:
        raise fail(f"truncated: {total_size} bytes, but {kind} {shape} takes {expected_size}")
    if total_size > expected_size:
        raise fail(
            f"{total_size - expected_size} unexpected bytes after the model ({expected_size} bytes expected)"
        )
    return ModelHeader(version, kind, _METRICS[metric_code], M, Ks, Ds, payload_bytes, payload_crc)


def _build(header: ModelHeader, payload: bytes, source: str, verbose: bool) -> Quantizer:
    from .opq import OPQ
    from .pq import PQ

    if zlib.crc32(payload) != header.payload_crc32:
        raise ModelFileError(f"{source}: corrupted model data (checksum mismatch)")
    M, Ks, Ds = header.M, header.Ks, header.Ds
    n_codeword_floats = M * Ks * Ds
    codewords = np.frombuffer(payload, dtype="<f4", count=n_codeword_floats).astype(np.float32)
    if not np.isfinite(codewords).all():
        raise ModelFileError(f"{source}: the codewords contain NaN or infinity")
    codewords = codewords.reshape(M, Ks, Ds)
    if header.kind == "PQ":
        pq = PQ(M, Ks, metric=header.metric, verbose=verbose)
        pq.Ds, pq.codewords = Ds, codewords
        return pq
    D = M * Ds
    rotation = np.frombuffer(payload, dtype="<f4", count=D * D, offset=4 * n_codeword_floats).astype(
        np.float32
    )
    if not np.isfinite(rotation).all():
        raise ModelFileError(f"{source}: the rotation contains NaN or infinity")
    opq = OPQ(M, Ks, metric=header.metric, verbose=verbose)
    opq.pq.Ds, opq.pq.codewords = Ds, codewords
    opq.R = rotation.reshape(D, D)
    return opq


def from_bytes(data: Union[bytes, bytearray, memoryview], verbose: bool = False) -> Quantizer:
    """The PQ or OPQ held in model file bytes (see :func:`to_bytes`).

    Raises:
        ModelFileError: the bytes are not a valid model file
    """
    data = bytes(data)
    header = _parse_header(data[:HEADER_BYTES], len(data), "model bytes")
    return _build(header, data[HEADER_BYTES:], "model bytes", verbose)


def read_header(path: PathLike) -> ModelHeader:
    """The validated header of the model file at `path`; the arrays are not read."""
    with open(path, "rb") as stream:
        return _parse_header(
            stream.read(HEADER_BYTES), os.fstat(stream.fileno()).st_size, f"model file {str(path)!r}"
        )


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
    source = f"model file {str(path)!r}"
    with open(path, "rb") as stream:
        # The header is validated against the real file size before the
        # arrays are read, so a foreign or huge file is never read whole.
        header = _parse_header(stream.read(HEADER_BYTES), os.fstat(stream.fileno()).st_size, source)
        payload = stream.read(header.payload_bytes)
    if len(payload) != header.payload_bytes:
        raise ModelFileError(f"{source}: read error: the file changed size while being read")
    return _build(header, payload, source, verbose)
