"""Every job at one thread count, under that thread limit and the background meter."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .background import background_note, others_cpu_meter
from .jobs.base import Block, Job, RunContext
from .results import RunResult
from .timing import thread_limit


def run_at(threads: int, jobs: Sequence[Job], adapters: Sequence[Any], ctx: RunContext) -> RunResult:
    """Runs `jobs` in order, each with the adapters of the libraries it supports."""
    block = Block(RunResult(threads))
    with others_cpu_meter() as background, thread_limit(threads):
        for job in jobs:
            job.run([adapter for adapter in adapters if adapter.name in job.libraries], ctx, block)
    result = block.result
    if background:
        result.background_cores = background[0]
    result.remarks.append(f"background during this block: {background_note(result.background_cores)}")
    return result
