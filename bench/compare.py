"""Side-by-side benchmark of nanopq_cpp, nanopq 0.2.2 and faiss-cpu.

Runs the same operations on the same data with all three libraries, at each
requested thread count, and prints a table of times, the speed-up of
nanopq_cpp over faiss and over nanopq, and accuracy (reconstruction error and
recall against exact search).

Operations (nanopq_cpp / nanopq / faiss):
  fit PQ       nanopq_cpp.PQ.fit / nanopq.PQ.fit / faiss.ProductQuantizer.train
  encode       PQ.encode / PQ.encode / ProductQuantizer.compute_codes
  decode       PQ.decode / PQ.decode / ProductQuantizer.decode
  adist/query  dtable(q).adist(codes), one query at a time / same /
               IndexPQ.search(q[None], k=1)
  search       dtable(Q).search(codes, topk) / per-query adist + argpartition /
               IndexPQ.search(Q, topk)
  fit OPQ      nanopq_cpp.OPQ.fit / nanopq.OPQ.fit / OPQMatrix.train + PQ train

Example:
  python bench/compare.py --quick
  python bench/compare.py --threads 1 2 --json bench/results.json
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import io
import json
import math
import os
import platform
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import nanopq_cpp
import numpy as np

try:
    import faiss
except ImportError:  # the script still compares the other two
    faiss = None

try:
    import nanopq
except ImportError:
    nanopq = None

try:
    from threadpoolctl import threadpool_limits
except ImportError:  # then numpy's BLAS keeps its own thread count
    threadpool_limits = None

CPP, FAISS, NANOPQ = "nanopq_cpp", "faiss", "nanopq"
LIBRARY_ORDER = (CPP, FAISS, NANOPQ)

# Operation keys in table order, with the row label template filled in by row_label().
OPERATIONS = ("fit_pq", "encode", "decode", "adist", "search", "fit_opq")


# ---------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------
@dataclass
class Dataset:
    """The vectors every library sees.

    Attributes:
        train: (n_train, D) float32 training vectors.
        database: (n_database, D) float32 vectors to encode and search.
        adist_queries: (n, D) float32 queries for the per-query adist loop.
        search_queries: (n, D) float32 queries for the batched top-k search.
        source: a description of where the vectors came from.
    """

    train: np.ndarray
    database: np.ndarray
    adist_queries: np.ndarray
    search_queries: np.ndarray
    source: str


def synthetic_vectors(count: int, dim: int, seed: int, layout_seed: int) -> np.ndarray:
    """Gaussian clusters with decaying per-dimension variance, randomly rotated.

    The cluster layout and rotation depend only on `layout_seed`, so train,
    database and queries (drawn with different `seed`s) share a distribution,
    and changing one count leaves the other sets unchanged.

    Args:
        count: Number of vectors.
        dim: Dimension.
        seed: Seed for the points themselves.
        layout_seed: Seed for cluster centres, variances and rotation.

    Returns:
        np.ndarray: (count, dim) float32 vectors.
    """
    layout = np.random.default_rng(layout_seed)
    n_clusters = 100
    # Decaying spread mimics real descriptors (SIFT, embeddings): a low
    # intrinsic dimension gives nearest neighbours that PQ can find (isotropic
    # noise would not), and after the rotation the variance is unevenly spread
    # over PQ's subspaces, which is what OPQ's learned rotation corrects.
    spread = np.exp(-6.0 * np.arange(dim) / dim)
    centres = layout.normal(size=(n_clusters, dim)) * spread
    rotation, _ = np.linalg.qr(layout.normal(size=(dim, dim)))
    points_rng = np.random.default_rng(seed)
    out = np.empty((count, dim), dtype=np.float32)
    chunk = 65_536  # bounds the float64 temporaries
    for start in range(0, count, chunk):
        stop = min(start + chunk, count)
        labels = points_rng.integers(n_clusters, size=stop - start)
        noise = points_rng.normal(size=(stop - start, dim)) * spread
        out[start:stop] = (centres[labels] + noise) @ rotation
    return out


def make_synthetic(args: argparse.Namespace) -> Dataset:
    """Synthetic train/database/query sets, each from its own seed."""
    n_queries = max(args.adist_queries, args.queries)
    train = synthetic_vectors(args.train, args.dim, args.seed + 1, args.seed)
    database = synthetic_vectors(args.database, args.dim, args.seed + 2, args.seed)
    queries = synthetic_vectors(n_queries, args.dim, args.seed + 3, args.seed)
    source = f"synthetic Gaussian clusters, decaying variance, random rotation (seed {args.seed})"
    return Dataset(train, database, queries[: args.adist_queries], queries[: args.queries], source)


def load_npy(args: argparse.Namespace) -> Dataset:
    """Split a user's (N, D) .npy into disjoint train, database and query sets.

    Rows are shuffled with --seed first so that ordered files (e.g. sorted by
    label) still give representative splits. When the file is too small for
    the requested counts, the database gets what is left after train and
    queries.
    """
    vectors = np.load(args.npy, mmap_mode="r")
    if vectors.ndim != 2:
        raise SystemExit(f"--npy: expected a 2-D array (N, D), got shape {vectors.shape}")
    n_queries = max(args.adist_queries, args.queries)
    n_database = min(args.database, len(vectors) - args.train - n_queries)
    if n_database < 1:
        raise SystemExit(
            f"--npy: {len(vectors)} rows cannot hold --train {args.train} + {n_queries} queries + a database"
        )
    order = np.random.default_rng(args.seed).permutation(len(vectors))
    # Gathering in sorted order reads a memory-mapped file front to back.
    train_rows, query_rows = order[: args.train], order[args.train : args.train + n_queries]
    database_rows = order[args.train + n_queries : args.train + n_queries + n_database]

    def take(rows: np.ndarray) -> np.ndarray:
        sorted_rows = np.sort(rows)
        block = np.asarray(vectors[sorted_rows], dtype=np.float32)
        return np.ascontiguousarray(block[np.argsort(np.argsort(rows))])

    queries = take(query_rows)
    note = "" if vectors.dtype == np.float32 else f", converted from {vectors.dtype}"
    if n_database < args.database:
        note += f"; database limited to the {n_database:,} rows left after train and queries"
    source = f"{args.npy} ({len(vectors):,} x {vectors.shape[1]}{note}; shuffled with seed {args.seed})"
    return Dataset(
        take(train_rows), take(database_rows), queries[: args.adist_queries], queries[: args.queries], source
    )


def exact_neighbours(database: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Index of each query's exact nearest database vector (squared L2).

    Plain numpy in blocks, so the ground truth depends on none of the
    libraries under test. Distances are computed in float64 to keep
    near-ties from flipping.
    """
    database64 = database.astype(np.float64)
    norms = np.einsum("ij,ij->i", database64, database64)
    nearest = np.empty(len(queries), dtype=np.int64)
    block = 64
    for start in range(0, len(queries), block):
        q = queries[start : start + block].astype(np.float64)
        distances = norms[None, :] - 2.0 * q @ database64.T  # ||q||^2 does not change the argmin
        nearest[start : start + block] = distances.argmin(axis=1)
    return nearest


def recall_at(found_ids: np.ndarray, truth: np.ndarray, k: int) -> float:
    """Fraction of queries whose exact nearest neighbour is among the first k ids found.

    This is the R@k of Jegou et al. (TPAMI 2011), the measure nanopq's own
    examples use.
    """
    return float(np.mean(np.any(found_ids[:, :k] == truth[:, None], axis=1)))


def mean_squared_error(original: np.ndarray, reconstructed: np.ndarray) -> float:
    """Mean over vectors of ||x - x_hat||^2 (summed over dimensions)."""
    total = 0.0
    for start in range(0, len(original), 65_536):  # blocks keep the temporary small
        diff = original[start : start + 65_536] - reconstructed[start : start + 65_536]
        total += float(np.einsum("ij,ij->", diff, diff, dtype=np.float64))
    return total / len(original)


# ---------------------------------------------------------------------------
# Library adapters: one uniform interface so the runner is library-agnostic
# ---------------------------------------------------------------------------
@dataclass
class Settings:
    """Quantizer and training settings shared by all libraries."""

    M: int
    Ks: int
    iters: int
    rotation_iters: int
    seed: int

    @property
    def nbits(self) -> int | None:
        """log2(Ks) when Ks is a power of two (faiss needs that), else None."""
        bits = self.Ks.bit_length() - 1
        return bits if self.Ks == 1 << bits else None


class NanopqStyleAdapter:
    """A library with nanopq's interface (nanopq itself, or nanopq_cpp as a
    drop-in), called exactly as a user of that interface would."""

    name = ""
    module: Any = None

    def __init__(self, settings: Settings) -> None:
        self.s = settings

    def fit_pq(self, train: np.ndarray) -> Any:
        pq = self.module.PQ(M=self.s.M, Ks=self.s.Ks, verbose=False)
        return pq.fit(train, iter=self.s.iters, seed=self.s.seed)

    def codewords(self, model: Any) -> np.ndarray:
        return np.asarray(model.codewords, dtype=np.float32)

    def encode(self, model: Any, vecs: np.ndarray) -> np.ndarray:
        return model.encode(vecs)

    def decode(self, model: Any, codes: np.ndarray) -> np.ndarray:
        return model.decode(codes)

    def unpacked(self, model: Any, codes: np.ndarray) -> np.ndarray:
        return codes

    def pq_with(self, codewords: np.ndarray) -> Any:
        """A PQ holding given codewords (no training), set up the way nanopq users do."""
        pq = self.module.PQ(M=self.s.M, Ks=self.s.Ks, verbose=False)
        pq.codewords = np.ascontiguousarray(codewords, dtype=np.float32)
        pq.Ds = codewords.shape[2]
        return pq

    def shared_searcher(self, codewords: np.ndarray, codes: np.ndarray, database: np.ndarray) -> Any:
        return self.pq_with(codewords), codes

    def adist(self, searcher: Any, query: np.ndarray) -> np.ndarray:
        pq, codes = searcher
        return pq.dtable(query).adist(codes)

    def top1(self, adist_result: np.ndarray) -> int:
        return int(np.argmin(adist_result))

    def search(self, searcher: Any, queries: np.ndarray, k: int) -> np.ndarray:
        raise NotImplementedError

    def fit_opq(self, train: np.ndarray) -> Any:
        opq = self.module.OPQ(M=self.s.M, Ks=self.s.Ks, verbose=False)
        return opq.fit(train, pq_iter=self.s.iters, rotation_iter=self.s.rotation_iters, seed=self.s.seed)

    def opq_reconstruct(self, model: Any, vecs: np.ndarray) -> np.ndarray:
        return model.decode(model.encode(vecs))


class CppAdapter(NanopqStyleAdapter):
    """nanopq_cpp, with its batched top-k search."""

    name = CPP
    module = nanopq_cpp

    def search(self, searcher: Any, queries: np.ndarray, k: int) -> np.ndarray:
        pq, codes = searcher
        ids, _ = pq.dtable(queries).search(codes, topk=k)
        return ids


def _cpp_pq_with(codewords: np.ndarray, settings: Settings) -> Any:
    """A nanopq_cpp.PQ holding given codewords (no training)."""
    return CppAdapter(settings).pq_with(codewords)


class NanopqAdapter(NanopqStyleAdapter):
    """nanopq 0.2.2 (numpy/scipy), the reference implementation."""

    name = NANOPQ

    @property
    def module(self) -> Any:  # type: ignore[override]
        return nanopq

    def search(self, searcher: Any, queries: np.ndarray, k: int) -> np.ndarray:
        # nanopq has no top-k search: the idiomatic way is adist per query,
        # then argpartition for the k smallest and a sort of just those k.
        pq, codes = searcher
        k_eff = min(k, len(codes))
        ids = np.empty((len(queries), k_eff), dtype=np.int64)
        for row, query in enumerate(queries):
            distances = pq.dtable(query).adist(codes)
            candidates = np.argpartition(distances, k_eff - 1)[:k_eff]
            ids[row] = candidates[np.argsort(distances[candidates], kind="stable")]
        return ids


class FaissAdapter:
    """faiss-cpu's ProductQuantizer / IndexPQ / OPQMatrix with matched settings."""

    name = FAISS

    def __init__(self, settings: Settings) -> None:
        self.s = settings

    def _new_pq(self, dim: int, n_train: int) -> Any:
        pq = faiss.ProductQuantizer(dim, self.s.M, self.s.nbits)
        pq.cp.niter = self.s.iters
        pq.cp.seed = self.s.seed
        # faiss subsamples to max_points_per_centroid * Ks training points;
        # raising the cap makes it train on all points, like the others.
        pq.cp.max_points_per_centroid = max(256, -(-n_train // self.s.Ks) + 1)
        return pq

    def fit_pq(self, train: np.ndarray) -> Any:
        pq = self._new_pq(train.shape[1], len(train))
        pq.train(train)
        return pq

    def codewords(self, model: Any) -> np.ndarray:
        flat = faiss.vector_to_array(model.centroids)
        return flat.reshape(self.s.M, self.s.Ks, -1).astype(np.float32)

    def encode(self, model: Any, vecs: np.ndarray) -> np.ndarray:
        return model.compute_codes(vecs)

    def decode(self, model: Any, codes: np.ndarray) -> np.ndarray:
        return model.decode(codes)

    def unpacked(self, model: Any, codes: np.ndarray) -> np.ndarray:
        return unpack_faiss_codes(codes, self.s.M, self.s.nbits)

    def shared_searcher(self, codewords: np.ndarray, codes: np.ndarray, database: np.ndarray) -> Any:
        dim = codewords.shape[0] * codewords.shape[2]
        index = faiss.IndexPQ(dim, self.s.M, self.s.nbits)
        faiss.copy_array_to_vector(
            np.ascontiguousarray(codewords, dtype=np.float32).ravel(), index.pq.centroids
        )
        index.is_trained = True
        index.add(database)  # faiss encodes the database itself with the shared codewords
        return index

    def adist(self, searcher: Any, query: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return searcher.search(query[None, :], 1)

    def top1(self, adist_result: tuple[np.ndarray, np.ndarray]) -> int:
        return int(adist_result[1][0, 0])

    def search(self, searcher: Any, queries: np.ndarray, k: int) -> np.ndarray:
        _, ids = searcher.search(queries, k)
        return ids

    def fit_opq(self, train: np.ndarray) -> Any:
        dim = train.shape[1]
        opq = faiss.OPQMatrix(dim, self.s.M)
        # nanopq's OPQ makes rotation_iter - 1 rotation updates, each after one
        # k-means iteration, then trains the final PQ for pq_iter iterations on
        # the rotated data. faiss's closest equivalent: OPQMatrix with
        # niter = rotation_iter - 1 rounds of niter_pq = 1 k-means iteration
        # (also for the first round, niter_pq_0), then a separate PQ training
        # (which is what IndexPreTransform(OPQMatrix, IndexPQ).train does).
        opq.niter = max(1, self.s.rotation_iters - 1)
        opq.niter_pq = 1
        opq.niter_pq_0 = 1
        opq.max_train_points = len(train)  # no subsampling
        # Without its own PQ, OPQMatrix always trains 256 codewords per subspace.
        rotation_pq = faiss.ProductQuantizer(dim, self.s.M, self.s.nbits)
        rotation_pq.cp.seed = self.s.seed
        opq.pq = rotation_pq
        opq.train(train)
        final_pq = self._new_pq(dim, len(train))
        final_pq.train(opq.apply(train))
        return opq, final_pq, rotation_pq  # rotation_pq kept alive: opq holds a raw pointer

    def opq_reconstruct(self, model: Any, vecs: np.ndarray) -> np.ndarray:
        opq, pq, _ = model
        return opq.reverse_transform(pq.decode(pq.compute_codes(opq.apply(vecs))))


def unpack_faiss_codes(packed: np.ndarray, M: int, nbits: int) -> np.ndarray:
    """faiss's packed codes as one integer per subspace, shape (N, M).

    faiss packs each vector's M codes of nbits bits into a byte string, least
    significant bit first.
    """
    if nbits == 8:
        return packed.reshape(-1, M)
    bits = np.unpackbits(packed, axis=1, bitorder="little")[:, : M * nbits].reshape(-1, M, nbits)
    weights = (1 << np.arange(nbits)).astype(np.int64)
    return bits.astype(np.int64) @ weights


# ---------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------
@dataclass
class Timing:
    """One measured operation of one library at one thread count.

    Attributes:
        operation: key from OPERATIONS.
        library: library name.
        threads: thread count the run was set to.
        seconds: best time (per query for 'adist'), already scaled if `scale` != 1.
        runs: how many timed runs the best was taken from.
        scale: factor applied to extrapolate from a subset (--nanopq-max); 1 if none.
    """

    operation: str
    library: str
    threads: int
    seconds: float
    runs: int
    scale: float = 1.0


def best_time(
    run_once: Callable[[], tuple[float, Any]], repeat: int, slow_seconds: float
) -> tuple[float, int, Any]:
    """Best (minimum) time of a fast operation, after one warm-up run.

    The warm-up pays one-off costs (page faults, thread-pool start-up, lazy
    imports) that a steady-state user does not see. An operation whose
    warm-up already took `slow_seconds` or more is not repeated: that run is
    the measurement, as such one-off costs are negligible next to it.

    Args:
        run_once: runs the operation once, returns (seconds, result).
        repeat: timed runs after the warm-up.
        slow_seconds: threshold above which the warm-up run is the measurement.

    Returns:
        tuple: (best seconds, number of runs it is the best of, last result).
    """
    seconds, result = run_once()
    if seconds >= slow_seconds:
        return seconds, 1, result
    times = []
    for _ in range(max(1, repeat)):
        seconds, result = run_once()
        times.append(seconds)
    return min(times), len(times), result


def best_fit_time(run_once: Callable[[], tuple[float, Any]], repeat: int) -> tuple[float, int, Any]:
    """Best time of a training run, without warm-up (fits are long and seeded)."""
    results = [run_once() for _ in range(max(1, repeat))]
    best = min(results, key=lambda pair: pair[0])
    return best[0], len(results), best[1]


def clocked(operation: Callable[[], Any]) -> Callable[[], tuple[float, Any]]:
    """Wraps a call so it returns (elapsed seconds, result)."""

    def run_once() -> tuple[float, Any]:
        start = time.perf_counter()
        result = operation()
        return time.perf_counter() - start, result

    return run_once


@contextlib.contextmanager
def thread_limit(threads: int) -> Iterator[None]:
    """Sets every library's thread count for the duration of the block."""
    nanopq_cpp.set_num_threads(threads)
    if faiss is not None:
        faiss.omp_set_num_threads(threads)
    try:
        if threadpool_limits is not None:
            # Covers numpy/scipy's BLAS (nanopq, nanopq_cpp's OPQ) and faiss's.
            with threadpool_limits(limits=threads):
                yield
        else:
            yield
    finally:
        nanopq_cpp.set_num_threads(None)


# ---------------------------------------------------------------------------
# The benchmark for one thread count
# ---------------------------------------------------------------------------
@dataclass
class RunContext:
    """What a run needs besides the adapters."""

    data: Dataset
    truth_adist: np.ndarray
    truth_search: np.ndarray
    topk: int
    repeat: int
    fit_repeat: int
    slow_seconds: float
    nanopq_max: int | None
    settings: Settings


@dataclass
class RunResult:
    """Timings, accuracy and remarks of one thread count."""

    threads: int
    background_cores: float | None = None
    timings: list[Timing] = field(default_factory=list)
    accuracy: dict[str, dict[str, float]] = field(default_factory=dict)
    remarks: list[str] = field(default_factory=list)

    def record(self, operation: str, library: str, seconds: float, runs: int, scale: float = 1.0) -> None:
        """Stores a time, extrapolated by `scale` when measured on a subset."""
        self.timings.append(Timing(operation, library, self.threads, seconds * scale, runs, scale))

    def score(self, metric: str, library: str, value: float) -> None:
        """Stores an accuracy number (a key of METRIC_LABELS)."""
        self.accuracy.setdefault(metric, {})[library] = value


def row_cap(library: str, rows: int, nanopq_max: int | None) -> int:
    """How many rows a library processes: nanopq may be capped by --nanopq-max."""
    if library == NANOPQ and nanopq_max is not None:
        return max(1, min(rows, nanopq_max))
    return rows


def run_fit_encode_decode(adapters: Sequence[Any], ctx: RunContext, result: RunResult) -> dict[str, Any]:
    """fit PQ, encode and decode with each library's own codewords; returns the models."""
    models: dict[str, Any] = {}
    database = ctx.data.database
    for adapter in adapters:
        name = adapter.name
        seconds, runs, model = best_fit_time(
            clocked(functools.partial(adapter.fit_pq, ctx.data.train)), ctx.fit_repeat
        )
        result.record("fit_pq", name, seconds, runs)
        models[name] = model

        rows = row_cap(name, len(database), ctx.nanopq_max)
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
        score_own_fit(adapter, model, codes, subset, ctx, result)
    return models


def score_own_fit(
    adapter: Any, model: Any, codes: np.ndarray, subset: np.ndarray, ctx: RunContext, result: RunResult
) -> None:
    """Encode agreement with nanopq_cpp and end-to-end recall of a library's own fit.

    Both use nanopq_cpp as the engine on the library's own codewords: encoding
    is nearest-codeword assignment and search is a table scan, so with the
    same codewords every correct implementation gives the same answer; what
    differs between libraries here is only the quality of their training.
    """
    reference = _cpp_pq_with(adapter.codewords(model), ctx.settings)
    if adapter.name != CPP:
        own = adapter.unpacked(model, codes).astype(np.int64)
        result.score("encode_agreement", adapter.name, float(np.mean(own == reference.encode(subset))))
    full_codes = reference.encode(ctx.data.database)
    ids, _ = reference.dtable(ctx.data.search_queries).search(full_codes, topk=ctx.topk)
    result.score("own_recall1", adapter.name, recall_at(ids, ctx.truth_search, 1))
    if ctx.topk >= 10:
        result.score("own_recall10", adapter.name, recall_at(ids, ctx.truth_search, 10))


def run_shared_search(
    adapters: Sequence[Any], shared_codewords: np.ndarray, ctx: RunContext, result: RunResult
) -> None:
    """adist per query and batched top-k with the same codewords and codes for all."""
    shared_pq = _cpp_pq_with(shared_codewords, ctx.settings)
    shared_codes = shared_pq.encode(ctx.data.database)
    for adapter in adapters:
        name = adapter.name
        searcher = adapter.shared_searcher(shared_codewords, shared_codes, ctx.data.database)
        if name == FAISS:
            added = unpack_faiss_codes(
                faiss.vector_to_array(searcher.codes).reshape(searcher.ntotal, -1),
                ctx.settings.M,
                ctx.settings.nbits,
            )
            result.score("faiss_add_agreement", name, float(np.mean(added == shared_codes)))
        time_adist(adapter, searcher, ctx, result)
        time_search(adapter, searcher, ctx, result)


def time_adist(adapter: Any, searcher: Any, ctx: RunContext, result: RunResult) -> None:
    """Per-query distance table + full scan, timed call by call, reported per query."""
    queries = ctx.data.adist_queries[: row_cap(adapter.name, len(ctx.data.adist_queries), ctx.nanopq_max)]

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
    result.record("adist", adapter.name, seconds, runs)
    result.score("adist_recall1", adapter.name, recall_at(top1[:, None], ctx.truth_adist[: len(queries)], 1))


def time_search(adapter: Any, searcher: Any, ctx: RunContext, result: RunResult) -> None:
    """Batched top-k search; nanopq may run on a prefix of the queries and be scaled."""
    total = len(ctx.data.search_queries)
    rows = row_cap(adapter.name, total, ctx.nanopq_max)
    queries = ctx.data.search_queries[:rows]
    scale = total / rows
    seconds, runs, ids = best_time(
        clocked(functools.partial(adapter.search, searcher, queries, ctx.topk)),
        ctx.repeat,
        ctx.slow_seconds / scale,
    )
    result.record("search", adapter.name, seconds, runs, scale)
    truth = ctx.truth_search[:rows]
    result.score("search_recall1", adapter.name, recall_at(ids, truth, 1))
    if ctx.topk >= 10:
        result.score("search_recall10", adapter.name, recall_at(ids, truth, 10))


def run_opq(adapters: Sequence[Any], ctx: RunContext, result: RunResult) -> None:
    """OPQ training time and each library's own OPQ reconstruction error."""
    database = ctx.data.database
    for adapter in adapters:
        seconds, runs, model = best_fit_time(
            clocked(functools.partial(adapter.fit_opq, ctx.data.train)), ctx.fit_repeat
        )
        result.record("fit_opq", adapter.name, seconds, runs)
        subset = database[: row_cap(adapter.name, len(database), ctx.nanopq_max)]
        result.score(
            "opq_mse", adapter.name, mean_squared_error(subset, adapter.opq_reconstruct(model, subset))
        )


def run_at(threads: int, adapters: Sequence[Any], ctx: RunContext) -> RunResult:
    """All operations of all libraries at one thread count."""
    result = RunResult(threads)
    with others_cpu_meter() as background, thread_limit(threads):
        models = run_fit_encode_decode(adapters, ctx, result)
        # Shared codewords: nanopq_cpp's, so every library scans identical data.
        shared = CppAdapter(ctx.settings).codewords(models[CPP])
        run_shared_search(adapters, shared, ctx, result)
        run_opq(adapters, ctx, result)
    if background:
        result.background_cores = background[0]
    result.remarks.append(f"background during this block: {background_note(result.background_cores)}")
    return result


# ---------------------------------------------------------------------------
# Machine and notes
# ---------------------------------------------------------------------------
def cpuinfo_value(key: str) -> str | None:
    """The first value of `key` in /proc/cpuinfo (Linux), or None."""
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8", errors="replace") as cpuinfo:
        for line in cpuinfo:
            name, _, value = line.partition(":")
            if name.strip() == key:
                return value.strip()
    return None


def cpu_model() -> str:
    """CPU model name from /proc/cpuinfo, else whatever platform knows."""
    return cpuinfo_value("model name") or platform.processor() or platform.machine()


def cpu_simd_flags() -> str:
    """The x86 SIMD extensions the CPU advertises (relevant to all three libraries)."""
    flags = cpuinfo_value("flags")
    if flags is None:
        return "unknown"
    interesting = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl")
    present = set(flags.split())
    return " ".join(flag for flag in interesting if flag in present) or "none of note"


def usable_cores() -> int:
    """Cores this process may run on (respects taskset / container limits)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def nanopq_cpp_config() -> str | None:
    """nanopq_cpp.show_config() output, if this build has it (newer builds do)."""
    if not hasattr(nanopq_cpp, "show_config"):
        return None
    captured = io.StringIO()
    with contextlib.redirect_stdout(captured):
        returned = nanopq_cpp.show_config()
    text = captured.getvalue().strip()
    if returned is not None:
        text = (text + "\n" + str(returned)).strip()
    return text or None


def numpy_blas() -> str:
    """numpy's BLAS library and version, as numpy reports it."""
    with contextlib.suppress(Exception), contextlib.redirect_stdout(io.StringIO()):
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    return "unknown"


def machine_busy_seconds() -> float | None:
    """CPU-seconds that all cores together have been busy since boot (/proc/stat), or None."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        with open("/proc/stat", encoding="ascii") as stat:
            ticks = [int(value) for value in stat.readline().split()[1:]]
        idle = ticks[3] + ticks[4]  # idle + iowait; steal (hypervisor) counts as busy
        return (sum(ticks) - idle) / os.sysconf("SC_CLK_TCK")
    return None


def own_cpu_seconds() -> float:
    """CPU-seconds this process (all its threads) has used."""
    times = os.times()
    return times.user + times.system


@contextlib.contextmanager
def others_cpu_meter() -> Iterator[list[float]]:
    """Measures how many cores other processes kept busy, on average, during the block.

    Other work on the machine steals cores from the libraries under test, and
    above all from multi-threaded calls, whose slowest thread decides their
    time; this tells whether a block's numbers can be trusted. The reading
    (machine busy time minus this process's CPU time, over wall time) is
    appended to the yielded list when the block ends, if /proc/stat exists.
    """
    reading: list[float] = []
    busy_before, own_before, wall_before = machine_busy_seconds(), own_cpu_seconds(), time.perf_counter()
    yield reading
    busy_after, own_after, wall_after = machine_busy_seconds(), own_cpu_seconds(), time.perf_counter()
    if busy_before is not None and busy_after is not None and wall_after > wall_before:
        others = (busy_after - busy_before) - (own_after - own_before)
        reading.append(max(0.0, others / (wall_after - wall_before)))


def busy_cores_elsewhere(window: float = 0.5) -> float | None:
    """Cores busy with other processes, sampled over `window` seconds while this one sleeps."""
    with others_cpu_meter() as reading:
        time.sleep(window)
    return reading[0] if reading else None


def background_note(busy: float | None) -> str:
    """'0.05 of 2 cores busy elsewhere', with a warning when that is a lot."""
    if busy is None:
        return "unknown (no /proc/stat)"
    warning = "  <- other processes are busy: expect noisy times" if busy > 0.2 else ""
    return f"{busy:.2f} of {os.cpu_count()} cores busy with other processes{warning}"


def machine_info() -> dict[str, Any]:
    """CPU, cores and library versions, for the header and the JSON dump."""
    info: dict[str, Any] = {
        "cpu": cpu_model(),
        "cpu_simd": cpu_simd_flags(),
        "logical_cores": os.cpu_count(),
        "usable_cores": usable_cores(),
        "platform": platform.platform(),
        "busy_cores_elsewhere_at_start": busy_cores_elsewhere(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numpy_blas": numpy_blas(),
        "nanopq_cpp": nanopq_cpp.__version__,
        "nanopq_cpp_config": nanopq_cpp_config(),
        "nanopq": getattr(nanopq, "__version__", None) if nanopq else None,
        "faiss": getattr(faiss, "__version__", None) if faiss else None,
        "faiss_compile_options": faiss.get_compile_options().strip() if faiss else None,
    }
    with contextlib.suppress(ImportError):
        import scipy

        info["scipy"] = scipy.__version__
    return info


def print_machine(info: dict[str, Any]) -> None:
    """The header: where and with what the numbers were taken."""
    print("Machine")
    print(
        f"  CPU            {info['cpu']} "
        f"({info['usable_cores']} usable / {info['logical_cores']} logical cores)"
    )
    print(f"  CPU SIMD       {info['cpu_simd']}")
    print(f"  platform       {info['platform']}, Python {info['python']}")
    print(f"  background     {background_note(info['busy_cores_elsewhere_at_start'])}")
    print(f"  numpy          {info['numpy']} (BLAS: {info['numpy_blas']}), scipy {info.get('scipy', 'n/a')}")
    print(f"  nanopq_cpp     {info['nanopq_cpp']}")
    config = info["nanopq_cpp_config"]
    if config is None:
        print("                 (SIMD level unknown: this build has no nanopq_cpp.show_config)")
    else:
        for line in config.splitlines():
            if line.strip() != f"nanopq_cpp {info['nanopq_cpp']}":  # the version is on the line above
                print(f"                 {line.strip()}")
    print(f"  nanopq         {info['nanopq'] or 'not installed'}")
    faiss_text = f"{info['faiss']} ({info['faiss_compile_options']})" if info["faiss"] else "not installed"
    print(f"  faiss-cpu      {faiss_text}")


def blas_thread_note() -> str:
    """How numpy's BLAS threads were handled, for the notes."""
    if threadpool_limits is not None:
        return "numpy/scipy BLAS threads (and faiss's BLAS) limited to the thread count via threadpoolctl."
    env = {
        name: os.environ[name] for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS") if name in os.environ
    }
    setting = ", ".join(f"{k}={v}" for k, v in env.items()) or f"its default, all {usable_cores()} cores"
    return (
        f"numpy's BLAS threads NOT limited (threadpoolctl is not installed): {setting}. This matters "
        "only where BLAS runs: OPQ fit (matmul + SVD) of nanopq, the x @ R product of nanopq_cpp's; "
        "nanopq's k-means, "
        "vq and adist are single-threaded C/numpy code. pip install threadpoolctl to limit it."
    )


def method_notes(ctx: RunContext) -> list[str]:
    """What each comparison does, so the numbers can be read correctly."""
    s = ctx.settings
    notes = [
        (
            f"Times are the best of {ctx.repeat} runs after a warm-up; an operation whose warm-up took "
            f">= {ctx.slow_seconds:g} s is measured once. Fits run {ctx.fit_repeat}x (best kept), no warm-up."
        ),
        "speed-up = other library's time / nanopq_cpp's time (> 1: nanopq_cpp is faster).",
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
        (
            "adist per query: nanopq_cpp and nanopq return all N distances; faiss has no such call, so it "
            "is IndexPQ.search(q[None], k=1) (table + full scan + top-1). argmin is not timed."
        ),
        (
            f"search: top-{ctx.topk}; nanopq has no top-k search, so it is adist per query + "
            "np.argpartition + a sort of the k found."
        ),
        (
            f"fit OPQ: nanopq_cpp/nanopq pq_iter={s.iters}, rotation_iter={s.rotation_iters} (both restart "
            "k-means every round). faiss: OPQMatrix with niter="
            f"{max(1, s.rotation_iters - 1)} rotation updates, niter_pq=niter_pq_0=1, max_train_points=all "
            "(it starts from a random rotation and hot-starts k-means), then a ProductQuantizer trained "
            f"{s.iters} iterations on the rotated data, as IndexPreTransform.train would."
        ),
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


# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------
METRIC_LABELS = {
    "pq_mse": "PQ reconstruction MSE (own fit)",
    "opq_mse": "OPQ reconstruction MSE (own fit)",
    "encode_agreement": "encode == nanopq_cpp encode (same codewords)",
    "faiss_add_agreement": "IndexPQ.add codes == nanopq_cpp codes",
    "adist_recall1": "recall@1, adist per query (shared codes)",
    "search_recall1": "recall@1, top-k search (shared codes)",
    "search_recall10": "recall@10, top-k search (shared codes)",
    "own_recall1": "recall@1, own fit",
    "own_recall10": "recall@10, own fit",
}


def row_label(operation: str, ctx: RunContext) -> str:
    """Row label with the sizes that operation worked on."""
    data, s = ctx.data, ctx.settings
    labels = {
        "fit_pq": f"fit PQ ({len(data.train):,} vecs, {s.iters} it)",
        "encode": f"encode ({len(data.database):,} vecs)",
        "decode": f"decode ({len(data.database):,} vecs)",
        "adist": f"adist per query ({len(data.database):,} codes)",
        "search": f"search top-{ctx.topk} ({len(data.search_queries):,} queries)",
        "fit_opq": f"fit OPQ ({s.rotation_iters} rounds, {s.iters} it)",
    }
    return labels[operation]


def format_seconds(seconds: float | None) -> str:
    """Human-readable duration with 3 significant digits."""
    if seconds is None or not math.isfinite(seconds):
        return "-"
    for unit, factor in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= factor or unit == "us":
            return f"{seconds / factor:.3g} {unit}"
    return "-"


def format_ratio(ratio: float | None) -> str:
    """A speed-up factor such as '12.3x'."""
    return "-" if ratio is None else f"{ratio:.3g}x"


def speedups(result: RunResult) -> dict[str, dict[str, float]]:
    """Per operation: speed-up of nanopq_cpp over each other library."""
    by_op: dict[str, dict[str, float]] = {}
    for timing in result.timings:
        by_op.setdefault(timing.operation, {})[timing.library] = timing.seconds
    ratios: dict[str, dict[str, float]] = {}
    for operation, times in by_op.items():
        cpp_time = times.get(CPP)
        if not cpp_time:
            continue
        ratios[operation] = {lib: times[lib] / cpp_time for lib in (FAISS, NANOPQ) if lib in times}
    return ratios


def print_timing_table(result: RunResult, libraries: Sequence[str], ctx: RunContext) -> None:
    """The times and speed-up ratios of one thread count."""
    cells = {(t.operation, t.library): t for t in result.timings}
    ratios = speedups(result)
    header = f"{'operation':<40}" + "".join(f"{lib:>12}" for lib in libraries)
    others = [lib for lib in (FAISS, NANOPQ) if lib in libraries]
    header += "".join(f"{'vs ' + lib:>12}" for lib in others)
    print(header)
    print("-" * len(header))
    for operation in OPERATIONS:
        line = f"{row_label(operation, ctx):<40}"
        for lib in libraries:
            timing = cells.get((operation, lib))
            text = format_seconds(timing.seconds if timing else None)
            if timing and timing.scale != 1.0:
                text = "~" + text
            line += f"{text:>12}"
        for lib in others:
            line += f"{format_ratio(ratios.get(operation, {}).get(lib)):>12}"
        print(line)


def print_accuracy_table(results: Sequence[RunResult], libraries: Sequence[str]) -> None:
    """Accuracy from the last run, plus any metric that changed with the thread count."""
    last = results[-1]
    header = f"{'accuracy':<48}" + "".join(f"{lib:>12}" for lib in libraries)
    print(header)
    print("-" * len(header))
    for metric, label in METRIC_LABELS.items():
        values = last.accuracy.get(metric)
        if not values:
            continue
        line = f"{label:<48}"
        for lib in libraries:
            value = values.get(lib)
            line += f"{'-' if value is None else format_metric(metric, value):>12}"
        print(line)
    changed = [
        f"{METRIC_LABELS.get(metric, metric)} [{lib}]: "
        + ", ".join(f"{r.threads}t={r.accuracy[metric][lib]:.7g}" for r in results)
        for metric, values in last.accuracy.items()
        for lib in values
        if len({r.accuracy.get(metric, {}).get(lib) for r in results}) > 1
    ]
    if len(results) > 1:
        print("accuracy identical at every thread count" if not changed else "accuracy changed with threads:")
        for line in changed:
            print("  " + line)


def format_metric(metric: str, value: float) -> str:
    """MSE with 4 significant digits, fractions as percentages."""
    return f"{value:.4g}" if metric.endswith("mse") else f"{100 * value:.1f}%"


def print_report(
    results: Sequence[RunResult], libraries: Sequence[str], ctx: RunContext, skipped: Sequence[str]
) -> None:
    """Every table and note."""
    data, s = ctx.data, ctx.settings
    print(f"\nData: {data.source}")
    print(
        f"  D={data.database.shape[1]}, M={s.M}, Ks={s.Ks}; train {len(data.train):,}, database "
        f"{len(data.database):,}, queries {len(data.adist_queries):,} (adist) / "
        f"{len(data.search_queries):,} (search)"
    )
    for line in skipped:
        print(f"  skipped: {line}")
    for result in results:
        print(
            f"\n== {result.threads} thread{'s' if result.threads > 1 else ''} "
            f"(nanopq_cpp.set_num_threads, faiss.omp_set_num_threads) =="
        )
        print_timing_table(result, libraries, ctx)
        for remark in result.remarks:
            print(f"  note: {remark}")
    print()
    print_accuracy_table(results, libraries)
    print("\nNotes")
    for note in method_notes(ctx):
        print(f"  - {note}")
    print(f"  - background at the end: {background_note(busy_cores_elsewhere())}.")


def save_json(
    path: str, info: dict[str, Any], args: argparse.Namespace, ctx: RunContext, results: Sequence[RunResult]
) -> None:
    """Raw numbers for later analysis."""
    payload = {
        "machine": info,
        "arguments": {key: value for key, value in vars(args).items()},
        "data": {
            "source": ctx.data.source,
            "dim": int(ctx.data.database.shape[1]),
            "train": len(ctx.data.train),
            "database": len(ctx.data.database),
            "adist_queries": len(ctx.data.adist_queries),
            "search_queries": len(ctx.data.search_queries),
        },
        "notes": method_notes(ctx),
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


def save_plot(path: str, results: Sequence[RunResult]) -> None:
    """Bar chart of nanopq_cpp's speed-ups per operation (log scale), if matplotlib is there."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # no display needed
        import matplotlib.pyplot as plt
    except ImportError:
        print(f"\nno plot: matplotlib is not installed (pip install matplotlib for {path})")
        return
    series = [
        (r.threads, lib)
        for r in results
        for lib in (FAISS, NANOPQ)
        if any(lib in ratios for ratios in speedups(r).values())
    ]
    if not series:
        return
    ratios_by_threads = {r.threads: speedups(r) for r in results}
    width = 0.8 / len(series)
    fig, axis = plt.subplots(figsize=(max(8.0, 1.6 * len(OPERATIONS)), 4.8))
    for position, (threads, lib) in enumerate(series):
        heights = [ratios_by_threads[threads].get(op, {}).get(lib, np.nan) for op in OPERATIONS]
        offsets = np.arange(len(OPERATIONS)) + (position - (len(series) - 1) / 2) * width
        bars = axis.bar(
            offsets, heights, width, label=f"vs {lib}, {threads} thread{'s' if threads > 1 else ''}"
        )
        # The exact factor on each bar: log-scale bar heights are hard to read off.
        axis.bar_label(bars, labels=[format_ratio(h) if np.isfinite(h) else "" for h in heights], fontsize=7)
    axis.axhline(1.0, color="black", linewidth=0.8)  # below this line nanopq_cpp is slower
    axis.set_yscale("log")
    axis.set_xticks(np.arange(len(OPERATIONS)))
    axis.set_xticklabels(OPERATIONS)
    axis.set_ylabel("nanopq_cpp speed-up (other time / nanopq_cpp time)")
    axis.set_title("nanopq_cpp speed-up over faiss and nanopq")
    axis.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"\nplot written to {path}")


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------
QUICK_SIZES = {
    "train": 3_000,
    "database": 10_000,
    "adist_queries": 20,
    "queries": 100,
    "dim": 32,
    "M": 4,
    "Ks": 64,
}


def parse_threads(values: Sequence[str]) -> list[int]:
    """'1 2', '1,2' or 'all' -> sorted unique thread counts."""
    counts = set()
    for value in values:
        for part in str(value).split(","):
            part = part.strip().lower()
            if not part:
                continue
            counts.add(usable_cores() if part == "all" else int(part))
    if not counts or min(counts) < 1:
        raise SystemExit("--threads: give positive counts or 'all'")
    return sorted(counts)


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = argparse.ArgumentParser(
        prog="python bench/compare.py",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n\n".join(__doc__.split("\n\n")[1:]),
    )
    data = parser.add_argument_group("data")
    data.add_argument("--train", type=int, default=20_000, help="training vectors (default 20000)")
    data.add_argument("--database", type=int, default=200_000, help="database vectors (default 200000)")
    data.add_argument(
        "--queries", type=int, default=1_000, help="queries for batched top-k search (default 1000)"
    )
    data.add_argument(
        "--adist-queries", type=int, default=100, help="queries for the per-query adist loop (default 100)"
    )
    data.add_argument("--dim", type=int, default=128, help="dimension of synthetic data (default 128)")
    data.add_argument("--npy", metavar="PATH", help="use a (N, D) float32 .npy instead of synthetic data")
    data.add_argument("--seed", type=int, default=0, help="seed of data generation and splitting (default 0)")
    quant = parser.add_argument_group("quantizer")
    quant.add_argument("-M", type=int, default=16, help="subspaces (default 16)")
    quant.add_argument("--Ks", type=int, default=256, help="codewords per subspace (default 256)")
    quant.add_argument("--iter", type=int, default=20, help="k-means iterations / OPQ pq_iter (default 20)")
    quant.add_argument("--rotation-iter", type=int, default=10, help="OPQ rotation_iter (default 10)")
    quant.add_argument("--topk", type=int, default=10, help="k of the batched search (default 10)")
    run = parser.add_argument_group("run")
    run.add_argument(
        "--threads",
        nargs="+",
        default=["1", "all"],
        help="thread counts, e.g. '1 2' or '1,4' or 'all' (default: 1 all)",
    )
    run.add_argument("--repeat", type=int, default=3, help="timed runs per fast operation (default 3)")
    run.add_argument("--fit-repeat", type=int, default=1, help="runs per fit (default 1)")
    run.add_argument(
        "--slow-seconds",
        type=float,
        default=1.0,
        help="an operation whose warm-up takes this long is timed once (default 1.0)",
    )
    run.add_argument("--skip-nanopq", action="store_true", help="leave nanopq out (it is the slowest)")
    run.add_argument("--skip-faiss", action="store_true", help="leave faiss out")
    run.add_argument(
        "--nanopq-max",
        type=int,
        metavar="N",
        help="nanopq encodes/decodes at most N database vectors and searches at most N queries; "
        "its times are scaled to the full count",
    )
    run.add_argument(
        "--quick",
        action="store_true",
        help="tiny smoke run (seconds): D=32, M=4, Ks=64, 3000/10000/100 vectors",
    )
    out = parser.add_argument_group("output")
    out.add_argument(
        "--plot",
        metavar="PATH",
        default=os.path.join(os.path.dirname(__file__), "compare.png"),
        help="bar chart of speed-ups (default bench/compare.png; needs matplotlib); '' for none",
    )
    out.add_argument("--json", metavar="PATH", help="write raw numbers to this JSON file")
    return parser


def apply_quick(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """--quick shrinks sizes that the user left at their defaults."""
    if not args.quick:
        return
    for name, value in QUICK_SIZES.items():
        if getattr(args, name) == parser.get_default(name):
            setattr(args, name, value)


def choose_adapters(args: argparse.Namespace, settings: Settings) -> tuple[list[Any], list[str]]:
    """The libraries to run, and why any is left out."""
    adapters: list[Any] = [CppAdapter(settings)]
    skipped: list[str] = []
    if args.skip_faiss:
        skipped.append("faiss (--skip-faiss)")
    elif faiss is None:
        skipped.append("faiss (not installed: pip install faiss-cpu)")
    elif settings.nbits is None:
        skipped.append(f"faiss (Ks={settings.Ks} is not a power of two)")
    else:
        adapters.append(FaissAdapter(settings))
    if args.skip_nanopq:
        skipped.append("nanopq (--skip-nanopq)")
    elif nanopq is None:
        skipped.append("nanopq (not installed: pip install nanopq==0.2.2)")
    else:
        adapters.append(NanopqAdapter(settings))
    return adapters, skipped


def validate(args: argparse.Namespace, dim: int) -> None:
    """Fail early, with a clear message, on settings no library accepts."""
    if dim % args.M:
        raise SystemExit(f"D={dim} is not a multiple of M={args.M}")
    if args.train <= args.Ks:
        raise SystemExit(
            f"--train {args.train} must exceed Ks={args.Ks} (k-means needs more points than centroids)"
        )
    if min(args.queries, args.adist_queries, args.database) < 1:
        raise SystemExit("--queries, --adist-queries and --database must be positive")
    if args.nanopq_max is not None and args.nanopq_max < 1:
        raise SystemExit("--nanopq-max must be positive")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: parse, prepare data, run every thread count, report."""
    parser = build_parser()
    args = parser.parse_args(argv)
    apply_quick(args, parser)
    threads = parse_threads(args.threads)
    info = machine_info()
    print_machine(info)

    data = load_npy(args) if args.npy else make_synthetic(args)
    validate(args, data.database.shape[1])
    settings = Settings(M=args.M, Ks=args.Ks, iters=args.iter, rotation_iters=args.rotation_iter, seed=123)
    adapters, skipped = choose_adapters(args, settings)
    ctx = RunContext(
        data=data,
        truth_adist=exact_neighbours(data.database, data.adist_queries),
        truth_search=exact_neighbours(data.database, data.search_queries),
        topk=args.topk,
        repeat=args.repeat,
        fit_repeat=args.fit_repeat,
        slow_seconds=args.slow_seconds,
        nanopq_max=args.nanopq_max,
        settings=settings,
    )
    libraries = [adapter.name for adapter in adapters]
    print(f"\nRunning {', '.join(libraries)} at {', '.join(map(str, threads))} thread(s)...", flush=True)
    results = []
    for count in threads:
        started = time.perf_counter()
        results.append(run_at(count, adapters, ctx))
        print(f"  {count} thread(s) done in {time.perf_counter() - started:.0f} s", flush=True)
    print_report(results, libraries, ctx, skipped)
    if args.json:
        save_json(args.json, info, args, ctx, results)
    if args.plot:
        save_plot(args.plot, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
