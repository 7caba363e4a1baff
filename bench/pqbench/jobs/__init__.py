"""The benchmark jobs compare.py runs, in this order.

To add a job, write a module here that defines JOB = Job(...) (see base.py)
and add it to JOBS. A job later in the list may use what an earlier one left
in the Block (shared_search uses the pq job's models), and says so in its
`needs`.
"""

from __future__ import annotations

from collections.abc import Sequence

from . import fast_scan, opq, pq, shared_search
from .base import Job, RunContext

JOBS: tuple[Job, ...] = (pq.JOB, shared_search.JOB, fast_scan.JOB, opq.JOB)


def select_jobs(names: Sequence[str]) -> list[Job]:
    """The jobs of JOBS named (--jobs), in JOBS's order; stops when one lacks a job it needs."""
    chosen = [job for job in JOBS if job.name in names]
    for job in chosen:
        missing = [need for need in job.needs if need not in names]
        if missing:
            raise SystemExit(
                f"--jobs: {job.name} needs {' and '.join(missing)}, which must run before it in the "
                f"same run: add {' '.join(missing)}"
            )
    return chosen


def runnable_jobs(jobs: Sequence[Job], ctx: RunContext, named: bool) -> tuple[list[Job], list[str]]:
    """The jobs that can run at these settings, and why any other is skipped.

    A job named on the command line (`named`) that cannot run stops the run
    instead: the user asked for it.
    """
    runnable, skipped = [], []
    for job in jobs:
        reason = job.unavailable(ctx)
        if reason is None:
            runnable.append(job)
        elif named:
            raise SystemExit(f"--jobs: {job.name} cannot run: {reason}")
        else:
            skipped.append(f"job {job.name} ({reason})")
    return runnable, skipped
