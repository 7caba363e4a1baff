"""The vectors every library sees: synthetic clusters or a user's .npy file."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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


def synthetic_dataset(
    *, dim: int, train: int, database: int, adist_queries: int, search_queries: int, seed: int
) -> Dataset:
    """Synthetic train/database/query sets, each from its own seed.

    The adist and search queries are prefixes of one query set.
    """
    queries = synthetic_vectors(max(adist_queries, search_queries), dim, seed + 3, seed)
    return Dataset(
        train=synthetic_vectors(train, dim, seed + 1, seed),
        database=synthetic_vectors(database, dim, seed + 2, seed),
        adist_queries=queries[:adist_queries],
        search_queries=queries[:search_queries],
        source=f"synthetic Gaussian clusters, decaying variance, random rotation (seed {seed})",
    )


def npy_dataset(
    path: str, *, train: int, database: int, adist_queries: int, search_queries: int, seed: int
) -> Dataset:
    """Split a user's (N, D) .npy into disjoint train, database and query sets.

    Rows are shuffled with `seed` first so that ordered files (e.g. sorted by
    label) still give representative splits. When the file is too small for
    the requested counts, the database gets what is left after train and
    queries. The messages name the command-line options, as only compare.py
    calls this.
    """
    vectors = np.load(path, mmap_mode="r")
    if vectors.ndim != 2:
        raise SystemExit(f"--npy: expected a 2-D array (N, D), got shape {vectors.shape}")
    n_queries = max(adist_queries, search_queries)
    n_database = min(database, len(vectors) - train - n_queries)
    if n_database < 1:
        raise SystemExit(
            f"--npy: {len(vectors)} rows cannot hold --train {train} + {n_queries} queries + a database"
        )
    order = np.random.default_rng(seed).permutation(len(vectors))
    train_rows, query_rows = order[:train], order[train : train + n_queries]
    database_rows = order[train + n_queries : train + n_queries + n_database]

    def take(rows: np.ndarray) -> np.ndarray:
        # Gathering in sorted order reads a memory-mapped file front to back.
        sorted_rows = np.sort(rows)
        block = np.asarray(vectors[sorted_rows], dtype=np.float32)
        return np.ascontiguousarray(block[np.argsort(np.argsort(rows))])

    queries = take(query_rows)
    note = "" if vectors.dtype == np.float32 else f", converted from {vectors.dtype}"
    if n_database < database:
        note += f"; database limited to the {n_database:,} rows left after train and queries"
    return Dataset(
        train=take(train_rows),
        database=take(database_rows),
        adist_queries=queries[:adist_queries],
        search_queries=queries[:search_queries],
        source=f"{path} ({len(vectors):,} x {vectors.shape[1]}{note}; shuffled with seed {seed})",
    )
