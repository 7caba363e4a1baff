"""Argument checks shared by PQ, OPQ and DistanceTable.

Each check raises one of the exceptions in ``_errors`` with a message that
names the argument and says what was expected, and returns the value in the
form the compiled core takes (C-contiguous, right dtype).
"""

from __future__ import annotations

import operator
import os
import sys
from typing import Any, Dict, Optional, Tuple, Type

import numpy as np

from . import _core

try:
    import resource
except ImportError:  # Windows has no resource limits of this kind
    resource = None  # type: ignore[assignment]
from ._errors import CodeError, DTypeError, InputError

METRICS = ("l2", "dot")

# The largest count the core takes (a size_t): larger ints are refused by
# name here, rather than by pybind11's TypeError at the core's door.
SIZE_MAX = 2 * sys.maxsize + 1


def as_int(value: Any, name: str, *, minimum: Optional[int] = None, maximum: Optional[int] = None) -> int:
    """An integer argument (Python or numpy int, not bool) within bounds."""
    if isinstance(value, (bool, np.bool_)):
        raise DTypeError(f"{name} must be an integer, got {value!r}")
    try:
        number = operator.index(value)
    except TypeError:
        raise DTypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}") from None
    if minimum is not None and number < minimum:
        raise InputError(f"{name} must be >= {minimum}, got {number}")
    if maximum is not None and number > maximum:
        raise InputError(f"{name} must be <= {maximum}, got {number}")
    return number


def check_metric(metric: Any) -> str:
    if metric not in METRICS:
        raise InputError(f"metric must be 'l2' or 'dot', got {metric!r}")
    return str(metric)


def as_seed(seed: Any) -> int:
    """A seed for the core's generator: an int in [0, 2**64), or None for a fresh one."""
    if seed is None:
        return int(np.random.SeedSequence().generate_state(1, dtype=np.uint64)[0])
    return as_int(seed, "seed", minimum=0, maximum=2**64 - 1)


def all_finite(array: np.ndarray) -> bool:
    """True when no value is NaN or infinite: one pass, no temporary array (the
    float64 sum of finite float32 values cannot overflow)."""
    return bool(np.isfinite(np.add.reduce(array, axis=None, dtype=np.float64)))


def as_float32(array: Any, name: str, ndims: Tuple[int, ...] = (2,), *, finite: bool = False) -> np.ndarray:
    """A float32 numpy array with one of ``ndims`` dimensions, made C-contiguous.

    Like nanopq, other dtypes are refused rather than converted: a silent cast
    of float64 data would hide a copy the size of the input.
    """
    array = check_float32(array, name, ndims)
    if finite and array.size and not all_finite(array):
        raise InputError(f"{name} contains NaN or infinity; remove or replace those values first")
    if not (array.flags.c_contiguous and array.flags.aligned):
        check_allocation(array.size * 4, f"a contiguous copy of {name}")
    return as_core_array(array)


def training_vectors(vecs: Any, M: int, more_than: Optional[int] = None) -> np.ndarray:
    """Training vectors as float32 (N, D), finite, with D a multiple of M and,
    when `more_than` is given (Ks), N > more_than, with nanopq's errors: the
    one Python check of the shapes fit and eigenvalue allocation receive."""
    checked = as_float32(vecs, "vecs", (2,), finite=True)
    N, D = checked.shape
    if more_than is not None and not more_than < N:
        raise InputError(f"the number of training vectors (N={N}) should be more than Ks={more_than}")
    if D % M != 0:
        raise InputError(f"input dimension must be dividable by M: D={D} is not a multiple of M={M}")
    return checked


def as_core_array(array: np.ndarray, dtype: Any = None) -> np.ndarray:
    """``array`` as the core reads it: C-contiguous, aligned, native dtype; copied only if needed.

    np.ascontiguousarray keeps a misaligned array as it is (np.frombuffer at
    an odd offset, arrays unpickled from a network frame by dask), and the
    core's loads of misaligned floats are undefined behaviour.
    """
    return np.require(array, dtype=dtype, requirements=["C_CONTIGUOUS", "ALIGNED"])


def check_float32(array: Any, name: str, ndims: Tuple[int, ...] = (2,)) -> np.ndarray:
    """Checks that ``array`` is a float32 numpy array with one of ``ndims`` dimensions, without copying it."""
    if not isinstance(array, np.ndarray):
        raise DTypeError(
            f"{name} must be a numpy.ndarray with dtype float32, got {type(array).__name__}; "
            f"convert with np.asarray({name}, dtype=np.float32)"
        )
    if array.dtype != np.float32:
        raise DTypeError(
            f"{name} must have dtype float32, got {array.dtype}; convert with {name}.astype(np.float32)"
        )
    if array.ndim not in ndims:
        shapes = " or ".join({1: "(D,)", 2: "(N, D)", 3: "(M, Ks, Ds)"}[n] for n in ndims)
        raise InputError(f"{name} must have shape {shapes}, got an array of shape {array.shape}")
    return array


_CODE_DTYPES = (np.dtype(np.uint8), np.dtype(np.uint16), np.dtype(np.uint32))


def code_dtype_for(Ks: int) -> Type[np.unsignedinteger[Any]]:
    """nanopq's choice of code dtype: the narrowest of uint8/16/32 that holds Ks values."""
    return np.uint8 if Ks <= 2**8 else (np.uint16 if Ks <= 2**16 else np.uint32)


def as_codes(codes: Any, M: int, Ks: int, name: str = "codes") -> np.ndarray:
    """PQ codes of shape (N, M) as uint8/16/32, the dtypes the core scans.

    Other integer dtypes are accepted, as nanopq's fancy indexing accepts them,
    but checked here: nanopq silently wraps negative codes around the table.
    Values >= Ks in uint8/16/32 arrays are caught by the core's own check.
    """
    if not isinstance(codes, np.ndarray):
        raise DTypeError(f"{name} must be a numpy.ndarray of integer codes, got {type(codes).__name__}")
    if codes.ndim != 2:
        raise InputError(f"{name} must have shape (N, M) with M={M}, got an array of shape {codes.shape}")
    if codes.shape[1] != M:
        raise InputError(f"{name} must have M={M} columns, got shape {codes.shape}")
    if codes.dtype in _CODE_DTYPES:
        return as_core_array(codes)
    if codes.dtype.kind not in "iu":
        raise DTypeError(f"{name} must have an integer dtype (uint8, uint16 or uint32), got {codes.dtype}")
    if codes.size:
        # Unsigned codes cannot be negative: one pass (the max), not two.
        low = int(codes.min()) if codes.dtype.kind == "i" else 0
        high = int(codes.max())
        if low < 0:
            raise CodeError(f"{name} contains a negative code ({low}); codes must be in [0, Ks={Ks})")
        if high >= Ks:
            raise CodeError(f"{name} contains the code {high}, which is not < Ks={Ks}")
    return as_core_array(codes, code_dtype_for(Ks))


# Allocations below this size are not checked: reading /proc/meminfo on every
# call would cost more than the smaller allocations themselves.
_CHECKED_ALLOCATION_BYTES = 256 * 2**20


def _read_int(path: str) -> Optional[int]:
    """The integer a /proc or /sys file holds, or None (missing, 'max', unreadable)."""
    try:
        with open(path) as stream:
            text = stream.read().strip()
        return int(text)
    except (OSError, ValueError):
        return None


def _free_memory() -> Optional[int]:
    """MemAvailable plus free swap, from /proc/meminfo; else physical memory."""
    try:
        with open("/proc/meminfo") as meminfo:
            fields = dict(line.split(":", 1) for line in meminfo if ":" in line)
        kib = int(fields["MemAvailable"].split()[0]) + int(fields.get("SwapFree", "0 kB").split()[0])
        return kib * 1024
    except (OSError, KeyError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


# cgroup v1 reports "no limit" as a huge number near 2**63.
_CGROUP_V1_UNLIMITED = 2**62
# Each version's files: the limit, and the memory in use.
_CGROUP_FILES = {
    "v2": ("memory.max", "memory.current"),
    "v1": ("memory.limit_in_bytes", "memory.usage_in_bytes"),
}


def _cgroup_mounts(mountinfo: str) -> Dict[str, Tuple[str, str]]:
    """Where the memory cgroup hierarchies are mounted: {"v2" or "v1": (hierarchy root, mount point)}."""
    mounts: Dict[str, Tuple[str, str]] = {}
    for line in mountinfo.splitlines():
        fields, _, tail = line.partition(" - ")
        parts, described = fields.split(), tail.split()
        if len(parts) < 5 or len(described) < 3:
            continue
        root, mount_point = parts[3], parts[4]
        if described[0] == "cgroup2":
            mounts.setdefault("v2", (root, mount_point))
        elif described[0] == "cgroup" and "memory" in described[2].split(","):
            mounts.setdefault("v1", (root, mount_point))
    return mounts


def _cgroup_headroom(proc: str = "/proc/self") -> Optional[int]:
    """What this process's memory cgroup (v2, or v1's memory controller) and
    every cgroup above it still allow: the smallest limit minus use, or None
    where no limit is set or no cgroup can be read. `proc` is for tests."""
    try:
        with open(os.path.join(proc, "cgroup")) as cgroups:
            lines = cgroups.read().splitlines()
        with open(os.path.join(proc, "mountinfo")) as mountinfo:
            mounts = _cgroup_mounts(mountinfo.read())
    except OSError:
        return None
    headrooms = []
    for line in lines:
        hierarchy, controllers, path = (line.split(":", 2) + ["", ""])[:3]
        if hierarchy == "0" and controllers == "" and "v2" in mounts:  # the unified tree
            (root, mount_point), limit_file, usage_file = mounts["v2"], "memory.max", "memory.current"
        elif "memory" in controllers.split(",") and "v1" in mounts:
            (root, mount_point), limit_file, usage_file = (
                mounts["v1"],
                "memory.limit_in_bytes",
                "memory.usage_in_bytes",
            )
        else:
            continue
        # The path is relative to the hierarchy's root, which a container may mount below its top.
        if root != "/" and (path == root or path.startswith(root + "/")):
            path = path[len(root) :]
        parts = [part for part in path.split("/") if part]
        for depth in range(len(parts), -1, -1):
            folder = os.path.join(mount_point, *parts[:depth])
            limit = _read_int(os.path.join(folder, limit_file))
            if limit is None or limit >= _CGROUP_V1_UNLIMITED:
                continue
            usage = _read_int(os.path.join(folder, usage_file)) or 0
            headrooms.append(max(0, limit - usage))
    return min(headrooms) if headrooms else None


def _address_space_headroom() -> Optional[int]:
    """RLIMIT_AS's soft limit minus the address space in use, or None if unlimited."""
    if resource is None:
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY:
        return None
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmSize:"):
                    return max(0, soft - int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    return soft


def available_memory() -> Optional[int]:
    """Bytes a new allocation can use without failing or the kernel killing the process, or None if unknown.

    The least of: free memory (Linux overcommits, so an allocation larger
    than MemAvailable plus free swap succeeds and the process is killed later,
    when the pages are touched), the headroom of the process's memory cgroup
    (a container's limit: past it the OOM killer strikes), and RLIMIT_AS
    (past it malloc fails).
    """
    known = [
        value
        for value in (_free_memory(), _cgroup_headroom(), _address_space_headroom())
        if value is not None
    ]
    return min(known) if known else None


def _format_bytes(n_bytes: int) -> str:
    size = float(n_bytes)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if size < 1024 or unit == "PiB":
            return f"{size:.1f} {unit}" if unit != "bytes" else f"{n_bytes} bytes"
        size /= 1024
    raise AssertionError("unreachable")


# Bytes a top-k search keeps for each candidate it holds: an id and a distance
# (impl/top_k.hpp's Neighbor, padded), and for each slot it returns (int64 + float32).
_HELD_CANDIDATE_BYTES = 16
_RESULT_SLOT_BYTES = 12
# The exact scan (impl/adc.hpp's exact_top_k, for unpacked codes and for packed
# ones without a fast scan) splits the rows into at most this many ranges a
# thread, each with its own heap of up to k candidates.
_RANGES_PER_THREAD = 4


def top_k_bytes(n_queries: int, k: int, n_candidates: int, table_bytes: int = 0, packed: bool = False) -> int:
    """Every byte a top-k search allocates: the results, the candidates its
    heaps hold, and for packed codes the fast scan's per-query lookup tables
    (`table_bytes` a query at most) and its one heap a query."""
    ranges = _RANGES_PER_THREAD * max(1, int(_core.get_num_threads()))
    held = min(n_candidates, k * ranges)
    total = n_queries * (k * _RESULT_SLOT_BYTES + held * _HELD_CANDIDATE_BYTES)
    if packed:
        total += n_queries * (table_bytes + min(k, n_candidates) * _HELD_CANDIDATE_BYTES)
    return total


def check_allocation(n_bytes: int, what: str) -> None:
    """Raises MemoryError, naming `what` and the sizes, if `n_bytes` cannot be allocated.

    Called before the core allocates an output whose size comes from the
    arguments (Nq x M x Ks distance tables, Nq x N distances, ...): a clear
    error instead of an out-of-memory kill.
    """
    if n_bytes < _CHECKED_ALLOCATION_BYTES:
        return
    if n_bytes > sys.maxsize:
        raise MemoryError(f"{what} need {_format_bytes(n_bytes)}, more than this platform can address")
    available = available_memory()
    if available is not None and n_bytes > available:
        raise MemoryError(
            f"{what} need {_format_bytes(n_bytes)}, "
            f"more than the {_format_bytes(available)} of memory available"
        )


_MINIT_NAMES = ("random", "++", "points")


def kmeans_init(minit: Any, M: int, Ks: int, Ds: int) -> Tuple[str, Optional[np.ndarray]]:
    """The core's name for a k-means initialisation, and the starting codewords
    when `minit` is an array of them (shape (M, Ks, Ds))."""
    if isinstance(minit, np.ndarray):
        initial = as_float32(minit, "minit", (3,), finite=True)
        if initial.shape != (M, Ks, Ds):
            raise InputError(
                f"minit as initial codewords must have shape (M, Ks, Ds)={(M, Ks, Ds)}, got {initial.shape}"
            )
        return "given", initial
    if isinstance(minit, str) and minit in _MINIT_NAMES:
        return minit, None
    if isinstance(minit, str) and minit == "matrix":
        raise InputError(
            "minit='matrix' needs the starting codewords themselves: pass minit=<np.ndarray of shape "
            f"(M, Ks, Ds)={(M, Ks, Ds)}> (in nanopq, minit='matrix' fails inside scipy)"
        )
    raise InputError(f"minit must be 'points', 'random', '++' or an np.ndarray of codewords, got {minit!r}")
