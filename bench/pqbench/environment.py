"""Where the numbers were taken: CPU, cores, platform and every library's version
and build configuration, for the report's header and the JSON file."""

from __future__ import annotations

import contextlib
import io
import os
import platform
from typing import Any

import nanopq_cpp
import numpy as np

from .background import background_note, busy_cores_elsewhere
from .libraries import faiss, nanopq


def cpuinfo_value(key: str) -> str | None:
    """The first value of `key` in /proc/cpuinfo (Linux), or None."""
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8", errors="replace") as cpuinfo:
        for line in cpuinfo:
            name, _, value = line.partition(":")
            if name.strip() == key:
                return value.strip()
    return None


def cpu_model() -> str:
    """CPU model name from /proc/cpuinfo, else whatever platform knows."""
    return cpuinfo_value("model name") or platform.processor() or platform.machine()


def cpu_simd_flags() -> str:
    """The x86 SIMD extensions the CPU advertises (relevant to all three libraries)."""
    flags = cpuinfo_value("flags")
    if flags is None:
        return "unknown"
    interesting = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl")
    present = set(flags.split())
    return " ".join(flag for flag in interesting if flag in present) or "none of note"


def usable_cores() -> int:
    """Cores this process may run on (respects taskset / container limits)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def nanopq_cpp_config() -> str:
    """What nanopq_cpp.show_config() prints: version, SIMD level in use, threads."""
    captured = io.StringIO()
    with contextlib.redirect_stdout(captured):
        nanopq_cpp.show_config()
    return captured.getvalue().strip()


def numpy_blas() -> str:
    """numpy's BLAS library and version, as numpy reports it (numpy >= 1.25)."""
    with contextlib.suppress(Exception), contextlib.redirect_stdout(io.StringIO()):
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    return "unknown"


def machine_info() -> dict[str, Any]:
    """CPU, cores and library versions, for the header and the JSON dump."""
    info: dict[str, Any] = {
        "cpu": cpu_model(),
        "cpu_simd": cpu_simd_flags(),
        "logical_cores": os.cpu_count(),
        "usable_cores": usable_cores(),
        "platform": platform.platform(),
        "busy_cores_elsewhere_at_start": busy_cores_elsewhere(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numpy_blas": numpy_blas(),
        "nanopq_cpp": nanopq_cpp.__version__,
        "nanopq_cpp_config": nanopq_cpp_config(),
        "nanopq": getattr(nanopq, "__version__", None) if nanopq else None,
        "faiss": getattr(faiss, "__version__", None) if faiss else None,
        "faiss_compile_options": faiss.get_compile_options().strip() if faiss else None,
    }
    with contextlib.suppress(ImportError):  # scipy comes with nanopq, so may be missing
        import scipy

        info["scipy"] = scipy.__version__
    return info


def print_machine(info: dict[str, Any]) -> None:
    """The header: where and with what the numbers were taken."""
    print("Machine")
    print(
        f"  CPU            {info['cpu']} "
        f"({info['usable_cores']} usable / {info['logical_cores']} logical cores)"
    )
    print(f"  CPU SIMD       {info['cpu_simd']}")
    print(f"  platform       {info['platform']}, Python {info['python']}")
    print(f"  background     {background_note(info['busy_cores_elsewhere_at_start'])}")
    print(f"  numpy          {info['numpy']} (BLAS: {info['numpy_blas']}), scipy {info.get('scipy', 'n/a')}")
    print(f"  nanopq_cpp     {info['nanopq_cpp']}")
    for line in info["nanopq_cpp_config"].splitlines():
        if line.strip() != f"nanopq_cpp {info['nanopq_cpp']}":  # the version is on the line above
            print(f"                 {line.strip()}")
    print(f"  nanopq         {info['nanopq'] or 'not installed'}")
    faiss_text = f"{info['faiss']} ({info['faiss_compile_options']})" if info["faiss"] else "not installed"
    print(f"  faiss-cpu      {faiss_text}")
