"""The JSON file of raw numbers (--json), the format of bench/results.json.

Top-level keys: machine (environment.machine_info), arguments (the command
line options), data (source and sizes), notes (as printed), runs (one per
thread count: threads, background_cores, timings, speedups, accuracy).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from .jobs.base import Job, RunContext
from .notes import method_notes
from .results import RunResult, speedups


def save_json(
    path: str,
    info: dict[str, Any],
    arguments: dict[str, Any],
    ctx: RunContext,
    results: Sequence[RunResult],
    jobs: Sequence[Job],
) -> None:
    """Raw numbers for later analysis."""
    payload = {
        "machine": info,
        "arguments": arguments,
        "data": {
            "source": ctx.data.source,
            "dim": int(ctx.data.database.shape[1]),
            "train": len(ctx.data.train),
            "database": len(ctx.data.database),
            "adist_queries": len(ctx.data.adist_queries),
            "search_queries": len(ctx.data.search_queries),
        },
        "notes": method_notes(ctx, jobs),
        "runs": [
            {
                "threads": r.threads,
                "background_cores": r.background_cores,
                "timings": [asdict(t) for t in r.timings],
                "speedups": speedups(r),
                "accuracy": r.accuracy,
            }
            for r in results
        ],
    }
    with open(path, "w", encoding="utf-8") as out:
        json.dump(payload, out, indent=2)
    print(f"\nraw numbers written to {path}")
