"""The notes that say how to read the numbers: general ones around each job's own."""

from __future__ import annotations

from collections.abc import Sequence

from .jobs.base import Job, RunContext
from .timing import blas_thread_note


def method_notes(ctx: RunContext, jobs: Sequence[Job]) -> list[str]:
    """What each comparison does, so the numbers can be read correctly."""
    notes = [
        (
            f"Times are the best of {ctx.repeat} runs after a warm-up; an operation whose warm-up took "
            f">= {ctx.slow_seconds:g} s is measured once. Fits run {ctx.fit_repeat}x (best kept), no warm-up."
        ),
        "speed-up = other library's time / nanopq_cpp's time (> 1: nanopq_cpp is faster).",
    ]
    for job in jobs:
        notes += job.notes(ctx)
    notes += [
        "MSE = mean over database vectors of ||x - decode(encode(x))||^2 (summed over dimensions).",
        "recall@k = fraction of queries whose exact nearest neighbour (numpy, float64) is in the top k.",
        (
            "own-fit recall: each library's codewords, database encoded and searched with nanopq_cpp "
            "(same math for any correct implementation), i.e. the quality of each library's training."
        ),
        blas_thread_note(),
    ]
    if ctx.nanopq_max is not None:
        notes.append(
            f"--nanopq-max {ctx.nanopq_max}: nanopq encodes/decodes at most that many database vectors and "
            "searches at most that many queries; its time is scaled linearly to the full count (marked ~), "
            "and its MSE/recall are on that subset."
        )
    return notes
