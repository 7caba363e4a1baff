"""SIMD level and build configuration of the compiled core."""

from __future__ import annotations

import platform
import sys
from typing import List, Optional

from . import _core
from ._errors import InputError


def get_simd_level() -> str:
    """The instruction set the kernels use now: 'scalar', 'avx2', 'avx512' or 'neon'."""
    return str(_core.get_simd_level())


def supported_simd_levels() -> List[str]:
    """The levels this CPU and build can run, from slowest to fastest."""
    return list(_core.supported_simd_levels())


def set_simd_level(level: Optional[str]) -> None:
    """Forces a SIMD level (None: the default, the fastest here). Results agree with
    the scalar reference at every level; this exists for testing and benchmarks.
    The environment variable NANOPQ_CPP_SIMD sets the level at import."""
    if level is None:
        level = str(_core.best_simd_level())
    if level not in ("scalar", "avx2", "avx512", "neon"):
        raise InputError(f"level must be one of 'scalar', 'avx2', 'avx512', 'neon' or None, got {level!r}")
    if level not in supported_simd_levels():
        raise InputError(f"SIMD level {level!r} is not supported here; supported: {supported_simd_levels()}")
    _core.set_simd_level(level)


def show_config() -> None:
    """Prints the version, SIMD level and thread count, for bug reports."""
    print(f"nanopq_cpp {_core.__version__}")
    print(f"  python      {sys.version.split()[0]} ({platform.machine()}, {platform.system()})")
    print(f"  simd level  {get_simd_level()} (supported: {', '.join(supported_simd_levels())})")
    print(f"  threads     {_core.get_num_threads()}")
    # What searching PackedCodes runs at this level: the fast scan, or the
    # exact scan where the level has no kernel for the code width.
    paths = _core.fast_scan_paths()
    print(f"  packed      Ks<=16 (4-bit): {paths['4-bit']}; Ks<=256 (8-bit): {paths['8-bit']}")
