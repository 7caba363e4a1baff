"""adist per query and batched top-k search, every library with the same
codewords and codes (nanopq_cpp's), so all of them do the same work."""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..accuracy import recall_at
from ..adapters import CppAdapter
from ..libraries import CPP, FAISS
from ..timing import best_time, clocked
from .base import Block, Job, Metric, MetricKind, Operation, RunContext


def run(adapters: Sequence[Any], ctx: RunContext, block: Block) -> None:
    """Needs the pq job to have run first in the block: it searches with nanopq_cpp's fitted codewords."""
    shared_codewords = CppAdapter(ctx.settings).codewords(block.pq_models[CPP])
    shared_codes = CppAdapter(ctx.settings).pq_with(shared_codewords).encode(ctx.data.database)
    for adapter in adapters:
        searcher = adapter.shared_searcher(shared_codewords, shared_codes, ctx.data.database)
        if adapter.name == FAISS:
            added = adapter.added_codes(searcher)
            block.result.score("faiss_add_agreement", FAISS, float(np.mean(added == shared_codes)))
        time_adist(adapter, searcher, ctx, block)
        time_search(adapter, searcher, ctx, block)


def time_adist(adapter: Any, searcher: Any, ctx: RunContext, block: Block) -> None:
    """Per-query distance table + full scan, timed call by call, reported per query."""
    queries = ctx.data.adist_queries[: ctx.rows_for(adapter.name, len(ctx.data.adist_queries))]

    def run_once() -> tuple[float, np.ndarray]:
        elapsed, top1 = 0.0, np.empty(len(queries), dtype=np.int64)
        for row, query in enumerate(queries):
            start = time.perf_counter()
            distances = adapter.adist(searcher, query)
            elapsed += time.perf_counter() - start
            top1[row] = adapter.top1(distances)  # outside the clock: not part of adist
        return elapsed / len(queries), top1

    # The threshold applies to the whole loop, so compare per-query time to its share.
    seconds, runs, top1 = best_time(run_once, ctx.repeat, ctx.slow_seconds / len(queries))
    block.result.record("adist", adapter.name, seconds, runs)
    block.result.score(
        "adist_recall1", adapter.name, recall_at(top1[:, None], ctx.truth_adist[: len(queries)], 1)
    )


def time_search(adapter: Any, searcher: Any, ctx: RunContext, block: Block) -> None:
    """Batched top-k search; nanopq may run on a prefix of the queries and be scaled."""
    total = len(ctx.data.search_queries)
    rows = ctx.rows_for(adapter.name, total)
    queries = ctx.data.search_queries[:rows]
    scale = total / rows
    seconds, runs, ids = best_time(
        clocked(functools.partial(adapter.search, searcher, queries, ctx.topk)),
        ctx.repeat,
        ctx.slow_seconds / scale,
    )
    block.result.record("search", adapter.name, seconds, runs, scale)
    truth = ctx.truth_search[:rows]
    block.result.score("search_recall1", adapter.name, recall_at(ids, truth, 1))
    if ctx.topk >= 10:
        block.result.score("search_recall10", adapter.name, recall_at(ids, truth, 10))


def notes(ctx: RunContext) -> list[str]:
    return [
        (
            "adist per query: nanopq_cpp and nanopq return all N distances; faiss has no such call, so it "
            "is IndexPQ.search(q[None], k=1) (table + full scan + top-1). argmin is not timed."
        ),
        (
            f"search: top-{ctx.topk}; nanopq has no top-k search, so it is adist per query + "
            "np.argpartition + a sort of the k found."
        ),
    ]


JOB = Job(
    name="shared_search",
    run=run,
    operations=(
        Operation("adist", lambda ctx: f"adist per query ({len(ctx.data.database):,} codes)"),
        Operation("search", lambda ctx: f"search top-{ctx.topk} ({len(ctx.data.search_queries):,} queries)"),
    ),
    metrics=(
        Metric("faiss_add_agreement", "IndexPQ.add codes == nanopq_cpp codes", MetricKind.AGREEMENT),
        Metric("adist_recall1", "recall@1, adist per query (shared codes)", MetricKind.SHARED_RECALL),
        Metric("search_recall1", "recall@1, top-k search (shared codes)", MetricKind.SHARED_RECALL),
        Metric("search_recall10", "recall@10, top-k search (shared codes)", MetricKind.SHARED_RECALL),
    ),
    notes=notes,
    needs=("pq",),
)
