"""fit PQ, encode and decode, each library with its own fitted codewords, and
the quality of each library's training (reconstruction error, recall)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..accuracy import mean_squared_error, recall_at
from ..adapters import CppAdapter
from ..libraries import CPP
from ..timing import best_fit_time, best_time, clocked
from .base import Block, Job, Metric, MetricKind, Operation, RunContext


def run(adapters: Sequence[Any], ctx: RunContext, block: Block) -> None:
    """fit PQ, encode and decode with each library; keeps the models in block.pq_models."""
    result = block.result
    database = ctx.data.database
    for adapter in adapters:
        name = adapter.name
        seconds, runs, model = best_fit_time(
            clocked(functools.partial(adapter.fit_pq, ctx.data.train)), ctx.fit_repeat
        )
        result.record("fit_pq", name, seconds, runs)
        block.pq_models[name] = model

        rows = ctx.rows_for(name, len(database))
        scale = len(database) / rows
        subset = database[:rows]
        seconds, runs, codes = best_time(
            clocked(functools.partial(adapter.encode, model, subset)), ctx.repeat, ctx.slow_seconds / scale
        )
        result.record("encode", name, seconds, runs, scale)
        seconds, runs, decoded = best_time(
            clocked(functools.partial(adapter.decode, model, codes)), ctx.repeat, ctx.slow_seconds / scale
        )
        result.record("decode", name, seconds, runs, scale)
        result.score("pq_mse", name, mean_squared_error(subset, decoded))
        del decoded
        score_own_fit(adapter, model, codes, subset, ctx, block)


def score_own_fit(
    adapter: Any, model: Any, codes: np.ndarray, subset: np.ndarray, ctx: RunContext, block: Block
) -> None:
    """Encode agreement with nanopq_cpp and end-to-end recall of a library's own fit.

    Both use nanopq_cpp as the engine on the library's own codewords: encoding
    is nearest-codeword assignment and search is a table scan, so with the
    same codewords every correct implementation gives the same answer; what
    differs between libraries here is only the quality of their training.
    """
    result = block.result
    reference = CppAdapter(ctx.settings).pq_with(adapter.codewords(model))
    if adapter.name != CPP:
        own = adapter.unpacked(model, codes).astype(np.int64)
        result.score("encode_agreement", adapter.name, float(np.mean(own == reference.encode(subset))))
    full_codes = reference.encode(ctx.data.database)
    ids, _ = reference.dtable(ctx.data.search_queries).search(full_codes, topk=ctx.topk)
    result.score("own_recall1", adapter.name, recall_at(ids, ctx.truth_search, 1))
    if ctx.topk >= 10:
        result.score("own_recall10", adapter.name, recall_at(ids, ctx.truth_search, 10))


def notes(ctx: RunContext) -> list[str]:
    s = ctx.settings
    return [
        (
            f"fit PQ: {s.iters} k-means iterations everywhere; faiss: cp.niter={s.iters} and "
            "cp.max_points_per_centroid raised so faiss trains on ALL points (its default subsamples "
            "to 256*Ks)."
        ),
        (
            "encode/decode: each library with its own fitted codewords. adist/search: all libraries use "
            "nanopq_cpp's codewords and codes (faiss: IndexPQ with those codewords, database added with "
            "index.add)."
        ),
    ]


JOB = Job(
    name="pq",
    run=run,
    operations=(
        Operation("fit_pq", lambda ctx: f"fit PQ ({len(ctx.data.train):,} vecs, {ctx.settings.iters} it)"),
        Operation("encode", lambda ctx: f"encode ({len(ctx.data.database):,} vecs)"),
        Operation("decode", lambda ctx: f"decode ({len(ctx.data.database):,} vecs)"),
    ),
    metrics=(
        Metric("pq_mse", "PQ reconstruction MSE (own fit)", MetricKind.ERROR),
        Metric("encode_agreement", "encode == nanopq_cpp encode (same codewords)", MetricKind.AGREEMENT),
        Metric("own_recall1", "recall@1, own fit", MetricKind.OWN_RECALL),
        Metric("own_recall10", "recall@10, own fit", MetricKind.OWN_RECALL),
    ),
    notes=notes,
)
