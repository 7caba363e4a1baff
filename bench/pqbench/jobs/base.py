"""What a benchmark job is, and what it is given when it runs.

A job measures some operations of every library it supports and scores their
accuracy. It declares, once, the table rows it fills (its operations), the
accuracy rows (its metrics) and the notes that explain how it measures; the
report, the JSON file, the plot and the checks all read these declarations.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..adapters import Settings
from ..data import Dataset
from ..libraries import LIBRARY_ORDER, NANOPQ
from ..results import RunResult


@dataclass
class RunContext:
    """What every job needs besides the adapters: data, ground truth, run settings."""

    data: Dataset
    truth_adist: np.ndarray
    truth_search: np.ndarray
    topk: int
    repeat: int
    fit_repeat: int
    slow_seconds: float
    nanopq_max: int | None
    settings: Settings
    # What a job prepares once and reuses at every thread count, by job name:
    # models fitted outside the clock, encoded databases, indexes.
    prepared: dict[str, Any] = field(default_factory=dict)

    def rows_for(self, library: str, rows: int) -> int:
        """How many of `rows` a library processes: nanopq may be capped by --nanopq-max."""
        if library == NANOPQ and self.nanopq_max is not None:
            return max(1, min(rows, self.nanopq_max))
        return rows


@dataclass
class Block:
    """The jobs' run at one thread count: where they record their numbers.

    Attributes:
        result: the times and scores of this thread count.
        pq_models: each library's PQ fitted by the pq job, by library name,
            for later jobs of the same block (the shared search takes
            nanopq_cpp's codewords from it).
    """

    result: RunResult
    pq_models: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Operation:
    """A timed operation: a row of the timing table and a bar group of the plot.

    Attributes:
        key: the name in the JSON file and on the plot, e.g. 'encode'.
        label: the row label, with the sizes the operation worked on.
    """

    key: str
    label: Callable[[RunContext], str]


class MetricKind(enum.IntEnum):
    """What an accuracy score measures; the accuracy table lists kinds in this order."""

    ERROR = 1  # reconstruction error (MSE): lower is better
    AGREEMENT = 2  # share of codes equal to nanopq_cpp's, from the same codewords
    EXACT_SHARE = 3  # share of the exact top-k of the same codes found: nanopq_cpp's must be 100%
    SHARED_RECALL = 4  # recall when every library searches the same codes
    OWN_RECALL = 5  # recall with each library's own training


@dataclass(frozen=True)
class Metric:
    """An accuracy score: a row of the accuracy table."""

    key: str
    label: str
    kind: MetricKind


def no_notes(ctx: RunContext) -> list[str]:
    """For a job whose measurements need no explanation."""
    return []


def always_available(ctx: RunContext) -> str | None:
    """For a job that runs at any settings compare.py accepts."""
    return None


@dataclass(frozen=True)
class Job:
    """A benchmark job.

    Attributes:
        name: short name, used in messages.
        run: run(adapters, ctx, block) measures the job's operations with
            each adapter (in LIBRARY_ORDER, only those of `libraries` that
            are installed and not skipped) and records times and scores in
            block.result, under the keys declared below.
        operations: the operations it times, in table order.
        metrics: the accuracy scores it records.
        notes: notes(ctx) explains how it measures, for the report and the JSON file.
        libraries: the libraries it can measure.
        needs: the jobs that must run before it in the same block (it uses
            what they leave there); --jobs refuses to run it without them.
        unavailable: unavailable(ctx) says why the job cannot run at these
            settings, or None when it can. A job left out this way is listed
            as skipped, or, when --jobs names it, stops the run before it starts.
    """

    name: str
    run: Callable[[Sequence[Any], RunContext, Block], None]
    operations: tuple[Operation, ...]
    metrics: tuple[Metric, ...] = ()
    notes: Callable[[RunContext], list[str]] = no_notes
    libraries: tuple[str, ...] = LIBRARY_ORDER
    needs: tuple[str, ...] = ()
    unavailable: Callable[[RunContext], str | None] = always_available


def all_operations(jobs: Sequence[Job]) -> list[Operation]:
    """Every job's operations, in job order: the rows of the timing table."""
    return [operation for job in jobs for operation in job.operations]


def all_metrics(jobs: Sequence[Job]) -> list[Metric]:
    """Every job's metrics, grouped by kind and in job order within a kind: the
    rows of the accuracy table."""
    return sorted((metric for job in jobs for metric in job.metrics), key=lambda metric: metric.kind)
