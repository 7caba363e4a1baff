"""Fast scan: nanopq_cpp's top-k search of packed codes against faiss's
IndexPQFastScan and IndexPQ, at equal bytes per vector B (the run's M).

  4-bit  nanopq_cpp PQ(M=2B, Ks=16), dt.search(pq.pack(codes))   faiss PQ(2B)x4fs, the same codes
  8-bit  nanopq_cpp PQ(M=B, Ks=256), dt.search(pq.pack(codes))   faiss IndexPQ Bx8, the same codes
         the same 8-bit search                                   faiss PQ(2B)x4fs, trained by faiss

faiss's IndexPQ and IndexPQFastScan hold nanopq_cpp's codewords and codes, so
in the first two rows both libraries search the same codes: a difference in
recall is faiss's approximate fast scan, not training. The third row is what
a faiss user gets at B bytes a vector with faiss's fast scan.

nanopq_cpp's packed search returns exactly what the search of the unpacked
codes returns, the same ids and distances: the job checks that at every
thread count and fails the run when it does not hold.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import nanopq_cpp
import numpy as np

from ..accuracy import recall_at
from ..adapters import pack_faiss_codes
from ..libraries import CPP, FAISS, faiss
from ..timing import best_time, clocked
from .base import Block, Job, Metric, MetricKind, Operation, RunContext

NAME = "fast_scan"
FOUR_BIT, EIGHT_BIT, EIGHT_BIT_VS_4FS = "fast_scan_4bit", "fast_scan_8bit", "fast_scan_8bit_vs_4fs"


@dataclass
class Width:
    """nanopq_cpp's quantizer of one code width, fitted once for every thread count.

    Attributes:
        bits: 4 (Ks=16) or 8 (Ks=256).
        pq: the fitted nanopq_cpp.PQ.
        codes: the database's codes, shape (N, M).
        packed: pq.pack(codes), what is searched.
        exact: (ids, distances) of pq.dtable(queries).search(codes): the exact
            ADC top-k of these codes, which the packed search must equal.
    """

    bits: int
    pq: Any
    codes: np.ndarray
    packed: Any
    exact: tuple[np.ndarray, np.ndarray]


@dataclass
class Prepared:
    """What the job sets up once: nanopq_cpp's two widths and faiss's indexes, by operation key."""

    widths: dict[int, Width]
    faiss_indexes: dict[str, Any] = field(default_factory=dict)


def bytes_per_vector(ctx: RunContext) -> int:
    """B: the run's M, the bytes a vector of its codes take at Ks=256."""
    return ctx.settings.M


def unavailable(ctx: RunContext) -> str | None:
    B, dim = bytes_per_vector(ctx), ctx.data.database.shape[1]
    if dim % (2 * B):
        return f"D={dim} is not a multiple of 2M={2 * B}, the subspaces of its 4-bit codes"
    if len(ctx.data.train) <= 256:
        return f"its 8-bit codes need more than 256 training vectors, not {len(ctx.data.train)}"
    return None


def prepare(ctx: RunContext, with_faiss: bool) -> Prepared:
    """Fits, encodes, packs and builds the indexes, outside the clock."""
    s, B = ctx.settings, bytes_per_vector(ctx)
    queries = ctx.data.search_queries
    widths = {}
    for bits, M in ((4, 2 * B), (8, B)):
        pq = nanopq_cpp.PQ(M=M, Ks=1 << bits, verbose=False).fit(ctx.data.train, iter=s.iters, seed=s.seed)
        codes = pq.encode(ctx.data.database)
        exact = pq.dtable(queries).search(codes, topk=ctx.topk)
        widths[bits] = Width(bits, pq, codes, pq.pack(codes), exact)
    prepared = Prepared(widths)
    if with_faiss:
        prepared.faiss_indexes = {
            FOUR_BIT: faiss.IndexPQFastScan(faiss_index_pq(widths[4])),
            EIGHT_BIT: faiss_index_pq(widths[8]),
            EIGHT_BIT_VS_4FS: faiss_fast_scan_own_fit(ctx, 2 * B),
        }
    return prepared


def faiss_index_pq(width: Width) -> Any:
    """A faiss IndexPQ with nanopq_cpp's codewords (nanopq_to_faiss) and the
    very codes nanopq_cpp searches, written into it rather than re-encoded."""
    index = nanopq_cpp.nanopq_to_faiss(width.pq)
    faiss.copy_array_to_vector(pack_faiss_codes(width.codes, width.bits).ravel(), index.codes)
    index.ntotal = len(width.codes)
    rows = min(len(width.codes), 100)
    if not np.allclose(index.reconstruct_n(0, rows), width.pq.decode(width.codes[:rows]), atol=1e-5):
        raise RuntimeError(f"faiss's IndexPQ {width.pq.M}x{width.bits} does not decode nanopq_cpp's codes")
    return index


def faiss_fast_scan_own_fit(ctx: RunContext, M: int) -> Any:
    """PQ(M)x4fs that faiss trains itself, as compare.py trains faiss's PQ:
    the same iterations and seed, on all training points (no subsampling)."""
    index = faiss.IndexPQFastScan(ctx.data.train.shape[1], M, 4)
    index.pq.cp.niter = ctx.settings.iters
    index.pq.cp.seed = ctx.settings.seed
    index.pq.cp.max_points_per_centroid = max(256, -(-len(ctx.data.train) // 16) + 1)
    index.train(ctx.data.train)
    index.add(ctx.data.database)
    return index


def run(adapters: Sequence[Any], ctx: RunContext, block: Block) -> None:
    """Prepares once (at the first thread count), then times every search at this one."""
    names = {adapter.name for adapter in adapters}
    prepared = ctx.prepared.get(NAME)
    if prepared is None:
        prepared = ctx.prepared[NAME] = prepare(ctx, with_faiss=FAISS in names)
    if CPP in names:
        time_nanopq_cpp(prepared, ctx, block)
    if FAISS in names:
        time_faiss(prepared, ctx, block)


def packed_search(width: Width, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    return width.pq.dtable(queries).search(width.packed, topk=k)


def faiss_search(index: Any, queries: np.ndarray, k: int) -> np.ndarray:
    _, ids = index.search(queries, k)
    return ids


def time_nanopq_cpp(prepared: Prepared, ctx: RunContext, block: Block) -> None:
    queries = ctx.data.search_queries
    for bits, width in prepared.widths.items():
        seconds, runs, (ids, distances) = best_time(
            clocked(functools.partial(packed_search, width, queries, ctx.topk)), ctx.repeat, ctx.slow_seconds
        )
        # One measurement of the 8-bit search stands against both of faiss's 8-bit rows.
        for key in (FOUR_BIT,) if bits == 4 else (EIGHT_BIT, EIGHT_BIT_VS_4FS):
            block.result.record(key, CPP, seconds, runs)
        check_exact(width, ids, distances, block)
        key = FOUR_BIT if bits == 4 else EIGHT_BIT
        block.result.score(f"{key}_exact_share", CPP, exact_share(ids, width.exact[0]))
        if ctx.topk >= 10:
            recall = recall_at(ids, ctx.truth_search, 10)
            block.result.score(f"{key}_recall10", CPP, recall)
            if bits == 8:
                block.result.score(f"{EIGHT_BIT_VS_4FS}_recall10", CPP, recall)


def time_faiss(prepared: Prepared, ctx: RunContext, block: Block) -> None:
    queries = ctx.data.search_queries
    for key, index in prepared.faiss_indexes.items():
        seconds, runs, ids = best_time(
            clocked(functools.partial(faiss_search, index, queries, ctx.topk)), ctx.repeat, ctx.slow_seconds
        )
        block.result.record(key, FAISS, seconds, runs)
        if key != EIGHT_BIT_VS_4FS:  # the same codes as nanopq_cpp's: compare with their exact top-k
            exact_ids = prepared.widths[4 if key == FOUR_BIT else 8].exact[0]
            block.result.score(f"{key}_exact_share", FAISS, exact_share(ids, exact_ids))
        if ctx.topk >= 10:
            block.result.score(f"{key}_recall10", FAISS, recall_at(ids, ctx.truth_search, 10))


def check_exact(width: Width, ids: np.ndarray, distances: np.ndarray, block: Block) -> None:
    """Fails the run unless the packed search returned the unpacked search's ids and distances."""
    exact_ids, exact_distances = width.exact
    what = f"nanopq_cpp's search of packed {width.bits}-bit codes (M={width.pq.M}, Ks={width.pq.Ks})"
    if ids.shape != exact_ids.shape or distances.shape != exact_distances.shape:
        block.result.fail(f"{what} returned shape {ids.shape}, the unpacked search {exact_ids.shape}")
        return
    differ = np.flatnonzero(np.any(ids != exact_ids, axis=1) | np.any(distances != exact_distances, axis=1))
    if len(differ):
        first = differ[0]
        block.result.fail(
            f"{what} differs from dt.search(codes) in {len(differ)} of {len(ids)} queries; query {first}: "
            f"ids {ids[first].tolist()} distances {distances[first].tolist()}, unpacked: ids "
            f"{exact_ids[first].tolist()} distances {exact_distances[first].tolist()}"
        )


def exact_share(found: np.ndarray, exact: np.ndarray) -> float:
    """The share of the exact top-k (over all queries) that the found top-k holds."""
    k = exact.shape[1]
    hits = np.any(found[:, :k, None] == exact[:, None, :], axis=1)
    return float(np.mean(hits))


def notes(ctx: RunContext) -> list[str]:
    B, s, k = bytes_per_vector(ctx), ctx.settings, ctx.topk
    return [
        (
            f"fast scan: {B} bytes a vector, top-{k} of {len(ctx.data.search_queries):,} queries in one "
            f"batch (tables included). nanopq_cpp: PQ(M={2 * B}, Ks=16) and PQ(M={B}, Ks=256), fitted with "
            f"{s.iters} iterations and encoded outside the clock; times dt.search(pq.pack(codes), topk), "
            "whose ids and distances must equal dt.search(codes)'s (the run fails otherwise). Whether "
            "packed 8-bit codes get the fast scan at this SIMD level, or the exact scan, is the 'packed' "
            "line of nanopq_cpp's configuration above."
        ),
        (
            f"fast scan, faiss: the 4-bit row is IndexPQFastScan PQ{2 * B}x4fs, built from an IndexPQ "
            f"holding nanopq_cpp's codewords (nanopq_to_faiss) and codes; the 8-bit row is IndexPQ {B}x8 "
            "with nanopq_cpp's codewords and codes (faiss's search of 8-bit codes). The row '8-bit vs faiss "
            f"PQ{2 * B}x4fs' times nanopq_cpp's 8-bit search (the same measurement) against an "
            f"IndexPQFastScan PQ{2 * B}x4fs that faiss trained itself ({s.iters} iterations, all training "
            "points), at the same bytes a vector."
        ),
        (
            "exact-ADC share: the share of the exact top-k of the same codes (nanopq_cpp's "
            "dt.search(codes), unpacked) that a search returns; faiss's fast scan is approximate."
        ),
    ]


JOB = Job(
    name=NAME,
    run=run,
    operations=(
        Operation(FOUR_BIT, lambda ctx: f"fast scan 4-bit top-{ctx.topk}, PQ{2 * bytes_per_vector(ctx)}x4"),
        Operation(EIGHT_BIT, lambda ctx: f"fast scan 8-bit top-{ctx.topk}, PQ{bytes_per_vector(ctx)}x8"),
        Operation(EIGHT_BIT_VS_4FS, lambda ctx: f"  8-bit vs faiss PQ{2 * bytes_per_vector(ctx)}x4fs"),
    ),
    metrics=(
        Metric(f"{FOUR_BIT}_exact_share", "exact-ADC share, fast scan 4-bit", MetricKind.EXACT_SHARE),
        Metric(f"{EIGHT_BIT}_exact_share", "exact-ADC share, fast scan 8-bit", MetricKind.EXACT_SHARE),
        Metric(f"{FOUR_BIT}_recall10", "recall@10, fast scan 4-bit (same codes)", MetricKind.SHARED_RECALL),
        Metric(f"{EIGHT_BIT}_recall10", "recall@10, fast scan 8-bit (same codes)", MetricKind.SHARED_RECALL),
        Metric(
            f"{EIGHT_BIT_VS_4FS}_recall10", "recall@10, 8-bit vs faiss 4fs (own fits)", MetricKind.OWN_RECALL
        ),
    ),
    notes=notes,
    libraries=(CPP, FAISS),
    unavailable=unavailable,
)
