"""Ground truth and accuracy measures, in plain numpy.

The ground truth depends on none of the libraries under test.
"""

from __future__ import annotations

import numpy as np


def exact_neighbours(database: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Index of each query's exact nearest database vector (squared L2).

    Computed in blocks of queries, in float64 to keep near-ties from flipping.
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
    block = 65_536  # keeps the temporary difference small
    for start in range(0, len(original), block):
        diff = original[start : start + block] - reconstructed[start : start + block]
        total += float(np.einsum("ij,ij->", diff, diff, dtype=np.float64))
    return total / len(original)
