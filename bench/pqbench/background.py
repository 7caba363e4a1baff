"""How many cores other processes keep busy while the benchmark runs.

Other work on the machine steals cores from the libraries under test, and
above all from multi-threaded calls, whose slowest thread decides their time;
these readings tell whether a block's numbers can be trusted. They come from
/proc/stat (Linux); elsewhere they are unknown.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator


def machine_busy_seconds() -> float | None:
    """CPU-seconds that all cores together have been busy since boot (/proc/stat), or None."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        with open("/proc/stat", encoding="ascii") as stat:
            ticks = [int(value) for value in stat.readline().split()[1:]]
        idle = ticks[3] + ticks[4]  # idle + iowait; steal (hypervisor) counts as busy
        return (sum(ticks) - idle) / os.sysconf("SC_CLK_TCK")
    return None


def own_cpu_seconds() -> float:
    """CPU-seconds this process (all its threads) has used."""
    times = os.times()
    return times.user + times.system


@contextlib.contextmanager
def others_cpu_meter() -> Iterator[list[float]]:
    """Measures how many cores other processes kept busy, on average, during the block.

    The reading (machine busy time minus this process's CPU time, over wall
    time) is appended to the yielded list when the block ends, if /proc/stat
    exists.
    """
    reading: list[float] = []
    busy_before, own_before, wall_before = machine_busy_seconds(), own_cpu_seconds(), time.perf_counter()
    yield reading
    busy_after, own_after, wall_after = machine_busy_seconds(), own_cpu_seconds(), time.perf_counter()
    if busy_before is not None and busy_after is not None and wall_after > wall_before:
        others = (busy_after - busy_before) - (own_after - own_before)
        reading.append(max(0.0, others / (wall_after - wall_before)))


def busy_cores_elsewhere(window: float = 0.5) -> float | None:
    """Cores busy with other processes, sampled over `window` seconds while this one sleeps."""
    with others_cpu_meter() as reading:
        time.sleep(window)
    return reading[0] if reading else None


def background_note(busy: float | None) -> str:
    """'0.05 of 2 cores busy elsewhere', with a warning when that is a lot."""
    if busy is None:
        return "unknown (no /proc/stat)"
    warning = "  <- other processes are busy: expect noisy times" if busy > 0.2 else ""
    return f"{busy:.2f} of {os.cpu_count()} cores busy with other processes{warning}"
