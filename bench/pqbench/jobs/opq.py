"""OPQ training time and each library's own OPQ reconstruction error."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from ..accuracy import mean_squared_error
from ..timing import best_fit_time, clocked
from .base import Block, Job, Metric, MetricKind, Operation, RunContext


def run(adapters: Sequence[Any], ctx: RunContext, block: Block) -> None:
    database = ctx.data.database
    for adapter in adapters:
        seconds, runs, model = best_fit_time(
            clocked(functools.partial(adapter.fit_opq, ctx.data.train)), ctx.fit_repeat
        )
        block.result.record("fit_opq", adapter.name, seconds, runs)
        subset = database[: ctx.rows_for(adapter.name, len(database))]
        block.result.score(
            "opq_mse", adapter.name, mean_squared_error(subset, adapter.opq_reconstruct(model, subset))
        )


def notes(ctx: RunContext) -> list[str]:
    s = ctx.settings
    return [
        f"fit OPQ: nanopq_cpp/nanopq pq_iter={s.iters}, rotation_iter={s.rotation_iters} (both restart "
        "k-means every round). faiss: OPQMatrix with niter="
        f"{max(1, s.rotation_iters - 1)} rotation updates, niter_pq=niter_pq_0=1, max_train_points=all "
        "(it starts from a random rotation and hot-starts k-means), then a ProductQuantizer trained "
        f"{s.iters} iterations on the rotated data, as IndexPreTransform.train would."
    ]


JOB = Job(
    name="opq",
    run=run,
    operations=(
        Operation(
            "fit_opq",
            lambda ctx: f"fit OPQ ({ctx.settings.rotation_iters} rounds, {ctx.settings.iters} it)",
        ),
    ),
    metrics=(Metric("opq_mse", "OPQ reconstruction MSE (own fit)", MetricKind.ERROR),),
    notes=notes,
)
