"""Sanity checks on a finished run: what makes compare.py exit non-zero.

They catch a broken run, not a slow one: a job that left a library out, a
time that is not a positive number, an accuracy far from the other
libraries', a nanopq_cpp result that must be exact and is not (a job may
check its results itself and record a failure with RunResult.fail). The
thresholds are loose on purpose: libraries' trainings differ by a few
percent, and on the tiny --quick sets one query more or less moves recall by
a percent or more.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from .jobs.base import Job, Metric, MetricKind, all_metrics, all_operations
from .libraries import CPP
from .results import RunResult

# Codes from the same codewords match nanopq_cpp's up to near-ties, where
# faiss's ||x||^2 - 2 x.c + ||c||^2 form may round the other way.
MIN_AGREEMENT = 0.9
# A library's MSE above this multiple of the best, or its recall below the
# best divided by it, means something is broken.
FAR_OFF = 2.0


def find_problems(results: Sequence[RunResult], jobs: Sequence[Job], libraries: Sequence[str]) -> list[str]:
    """Everything wrong with the run, one message each; empty when all is well."""
    operation_keys = {operation.key for operation in all_operations(jobs)}
    metrics = all_metrics(jobs)
    metric_keys = {metric.key for metric in metrics}
    problems = []
    for result in results:
        at = f"{result.threads} thread{'s' if result.threads > 1 else ''}"
        problems += [f"{at}: {problem}" for problem in result.problems]
        times = {(timing.operation, timing.library): timing.seconds for timing in result.timings}
        for job in jobs:
            for operation in job.operations:
                for library in (lib for lib in libraries if lib in job.libraries):
                    seconds = times.get((operation.key, library))
                    if seconds is None:
                        problems.append(f"{at}: job {job.name} timed no {operation.key} of {library}")
                    elif not (math.isfinite(seconds) and seconds > 0):
                        problems.append(f"{at}: {operation.key} of {library} took {seconds!r} s")
        for operation_key, library in times:
            if operation_key not in operation_keys:
                problems.append(f"{at}: {library} timed {operation_key!r}, which no job declares")
        for key in result.accuracy:
            if key not in metric_keys:
                problems.append(f"{at}: a score {key!r} that no job declares")
        for metric in metrics:
            problems += [
                f"{at}: {text}" for text in score_problems(metric, result.accuracy.get(metric.key, {}))
            ]
    return problems


def score_problems(metric: Metric, values: dict[str, float]) -> list[str]:
    """What is wrong with one metric's scores, library by library."""
    problems = [
        f"{metric.label} of {lib} is {value!r}" for lib, value in values.items() if not math.isfinite(value)
    ]
    finite = {lib: value for lib, value in values.items() if math.isfinite(value)}
    if not finite:
        return problems
    if metric.kind == MetricKind.ERROR:
        best = min(finite.values())
        problems += [
            f"{metric.label} of {lib} is {value:.4g}, over {FAR_OFF:g}x the best ({best:.4g})"
            for lib, value in finite.items()
            if value > FAR_OFF * best
        ]
    elif metric.kind == MetricKind.AGREEMENT:
        problems += [
            f"{metric.label} of {lib} is {value:.1%}, under {MIN_AGREEMENT:.0%}"
            for lib, value in finite.items()
            if value < MIN_AGREEMENT
        ]
    elif metric.kind == MetricKind.EXACT_SHARE:
        # nanopq_cpp's searches return exactly the exact top-k; the others may approximate it.
        problems += [
            f"{metric.label} of {lib} is {value:.4%}, not 100%"
            for lib, value in finite.items()
            if lib == CPP and value != 1.0
        ]
    elif metric.kind in (MetricKind.SHARED_RECALL, MetricKind.OWN_RECALL):
        best = max(finite.values())
        problems += [
            f"{metric.label} of {lib} is {value:.1%}, under 1/{FAR_OFF:g} of the best ({best:.1%})"
            for lib, value in finite.items()
            if value < best / FAR_OFF
        ]
    return problems


def print_problems(problems: Sequence[str]) -> None:
    """The failed checks, after the report."""
    print(f"\nFAILED: {len(problems)} check{'s' if len(problems) > 1 else ''} of this run")
    for problem in problems:
        print(f"  - {problem}")
