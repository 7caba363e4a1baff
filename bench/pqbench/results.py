"""What a run records: times and accuracy scores of each library at one thread
count, and the speed-ups derived from them."""

from __future__ import annotations

from dataclasses import dataclass, field

from .libraries import CPP, OTHER_LIBRARIES


@dataclass
class Timing:
    """One measured operation of one library at one thread count.

    Attributes:
        operation: key of an Operation of some job.
        library: library name.
        threads: thread count the run was set to.
        seconds: best time (per query for 'adist'), already scaled if `scale` != 1.
        runs: how many timed runs the best was taken from.
        scale: factor applied to extrapolate from a subset (--nanopq-max); 1 if none.
    """

    operation: str
    library: str
    threads: int
    seconds: float
    runs: int
    scale: float = 1.0


@dataclass
class RunResult:
    """Timings, accuracy and remarks of one thread count."""

    threads: int
    background_cores: float | None = None
    timings: list[Timing] = field(default_factory=list)
    accuracy: dict[str, dict[str, float]] = field(default_factory=dict)
    remarks: list[str] = field(default_factory=list)
    # Checks a job made itself and failed, one message each; compare.py lists
    # them with the other failed checks and exits 1 (see checks.py).
    problems: list[str] = field(default_factory=list)

    def record(self, operation: str, library: str, seconds: float, runs: int, scale: float = 1.0) -> None:
        """Stores a time, extrapolated by `scale` when measured on a subset."""
        self.timings.append(Timing(operation, library, self.threads, seconds * scale, runs, scale))

    def score(self, metric: str, library: str, value: float) -> None:
        """Stores an accuracy number (the key of a Metric of some job)."""
        self.accuracy.setdefault(metric, {})[library] = value

    def fail(self, problem: str) -> None:
        """Records a failed check, e.g. results that must be exact and are not."""
        self.problems.append(problem)


def speedups(result: RunResult) -> dict[str, dict[str, float]]:
    """Per operation: speed-up of nanopq_cpp over each other library."""
    by_op: dict[str, dict[str, float]] = {}
    for timing in result.timings:
        by_op.setdefault(timing.operation, {})[timing.library] = timing.seconds
    ratios: dict[str, dict[str, float]] = {}
    for operation, times in by_op.items():
        cpp_time = times.get(CPP)
        if not cpp_time:
            continue
        ratios[operation] = {lib: times[lib] / cpp_time for lib in OTHER_LIBRARIES if lib in times}
    return ratios
