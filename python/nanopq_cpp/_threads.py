"""Thread count of the compiled core."""

from __future__ import annotations

from typing import Optional

from . import _core
from ._checks import as_int


def get_num_threads() -> int:
    """The number of threads long calls (fit, encode, adist, search) use."""
    return int(_core.get_num_threads())


# The core's cap (kMaxThreads in impl/threading.hpp), also that of the environment variables.
MAX_THREADS = 4096


def set_num_threads(n: Optional[int]) -> None:
    """Sets the thread count, from 1 to 4096; None restores the default (the
    environment variable NANOPQ_CPP_NUM_THREADS or OMP_NUM_THREADS, else all
    cores). Results are the same for every thread count."""
    _core.set_num_threads(0 if n is None else as_int(n, "n", minimum=1, maximum=MAX_THREADS))
