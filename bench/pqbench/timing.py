"""How operations are timed, and how every library's thread count is set."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import nanopq_cpp

from .environment import usable_cores
from .libraries import faiss, threadpool_limits


def best_time(
    run_once: Callable[[], tuple[float, Any]], repeat: int, slow_seconds: float
) -> tuple[float, int, Any]:
    """Best (minimum) time of a fast operation, after one warm-up run.

    The warm-up pays one-off costs (page faults, thread-pool start-up, lazy
    imports) that a steady-state user does not see. An operation whose
    warm-up already took `slow_seconds` or more is not repeated: that run is
    the measurement, as such one-off costs are negligible next to it.

    Args:
        run_once: runs the operation once, returns (seconds, result).
        repeat: timed runs after the warm-up.
        slow_seconds: threshold above which the warm-up run is the measurement.

    Returns:
        tuple: (best seconds, number of runs it is the best of, last result).
    """
    seconds, result = run_once()
    if seconds >= slow_seconds:
        return seconds, 1, result
    times = []
    for _ in range(max(1, repeat)):
        seconds, result = run_once()
        times.append(seconds)
    return min(times), len(times), result


def best_fit_time(run_once: Callable[[], tuple[float, Any]], repeat: int) -> tuple[float, int, Any]:
    """Best time of a training run, without warm-up (fits are long and seeded)."""
    results = [run_once() for _ in range(max(1, repeat))]
    best = min(results, key=lambda pair: pair[0])
    return best[0], len(results), best[1]


def clocked(operation: Callable[[], Any]) -> Callable[[], tuple[float, Any]]:
    """Wraps a call so it returns (elapsed seconds, result)."""

    def run_once() -> tuple[float, Any]:
        start = time.perf_counter()
        result = operation()
        return time.perf_counter() - start, result

    return run_once


@contextlib.contextmanager
def thread_limit(threads: int) -> Iterator[None]:
    """Sets every library's thread count for the duration of the block."""
    nanopq_cpp.set_num_threads(threads)
    if faiss is not None:
        faiss.omp_set_num_threads(threads)
    try:
        if threadpool_limits is not None:
            # Covers numpy/scipy's BLAS (nanopq, nanopq_cpp's OPQ) and faiss's.
            with threadpool_limits(limits=threads):
                yield
        else:
            yield
    finally:
        nanopq_cpp.set_num_threads(None)


def blas_thread_note() -> str:
    """How numpy's BLAS threads were handled by thread_limit, for the notes."""
    if threadpool_limits is not None:
        return "numpy/scipy BLAS threads (and faiss's BLAS) limited to the thread count via threadpoolctl."
    env = {
        name: os.environ[name] for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS") if name in os.environ
    }
    setting = ", ".join(f"{k}={v}" for k, v in env.items()) or f"its default, all {usable_cores()} cores"
    return (
        f"numpy's BLAS threads NOT limited (threadpoolctl is not installed): {setting}. This matters "
        "only where BLAS runs: OPQ fit (matmul + SVD) of nanopq, the x @ R product of nanopq_cpp's; "
        "nanopq's k-means, "
        "vq and adist are single-threaded C/numpy code. pip install threadpoolctl to limit it."
    )
