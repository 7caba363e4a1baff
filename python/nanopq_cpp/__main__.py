"""``python -m nanopq_cpp``: the tutorial on built-in synthetic data.

Trains PQ and OPQ, encodes a database, searches it, and prints recall against
exact search together with the time of each step; then searches the same PQ
codes three ways: the flat scan, the packed fast scan and the Rii index; and
last a residual IVF-PQ index of the same bytes a vector.
"""

from __future__ import annotations

import argparse
import time
from typing import Callable, Dict, Tuple, TypeVar, Union, cast

import numpy as np

import nanopq_cpp as nanopq

T = TypeVar("T")


def make_data(n_database: int, n_train: int, n_queries: int, dim: int, seed: int) -> Tuple[np.ndarray, ...]:
    """Correlated Gaussian clusters: realistic enough that OPQ's rotation helps."""
    rng = np.random.default_rng(seed)
    n_clusters = 64
    centers = rng.normal(size=(n_clusters, dim)) * 2.0
    scales = np.linspace(3.0, 0.2, dim)  # decaying variance, as in real descriptors
    mixing = np.linalg.qr(rng.normal(size=(dim, dim)))[0]

    def sample(n: int) -> np.ndarray:
        labels = rng.integers(n_clusters, size=n)
        points = centers[labels] + rng.normal(size=(n, dim)) * scales
        return cast(np.ndarray, (points @ mixing).astype(np.float32))

    return sample(n_database), sample(n_train), sample(n_queries)


def timed(label: str, timings: Dict[str, float], fn: Callable[[], T]) -> T:
    start = time.perf_counter()
    result = fn()
    timings[label] = time.perf_counter() - start
    return result


def recall_at(found: np.ndarray, truth: np.ndarray) -> float:
    """Fraction of queries whose true nearest neighbour is among `found`."""
    return float(np.mean([truth[q] in found[q] for q in range(len(truth))]))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m nanopq_cpp", description=__doc__.splitlines()[0])
    parser.add_argument("--n-database", type=int, default=20_000)
    parser.add_argument("--n-train", type=int, default=5_000)
    parser.add_argument("--n-queries", type=int, default=200)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("-M", type=int, default=16)
    parser.add_argument("--Ks", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    X, Xt, queries = make_data(args.n_database, args.n_train, args.n_queries, args.dim, args.seed)
    print(
        f"nanopq_cpp {nanopq.__version__}: {len(X)} database, {len(Xt)} training, "
        f"{len(queries)} query vectors, "
        f"D={args.dim}, M={args.M}, Ks={args.Ks}, {nanopq.get_num_threads()} threads"
    )
    exact = ((queries[:, None, :] - X[None, :, :]) ** 2).sum(-1)
    truth = exact.argmin(axis=1)

    pq_codes = None
    for name in ("PQ", "OPQ"):
        timings: Dict[str, float] = {}
        quantizer: Union[nanopq.PQ, nanopq.OPQ]
        if name == "PQ":
            pq = nanopq.PQ(M=args.M, Ks=args.Ks, verbose=False)
            quantizer = timed("fit", timings, lambda: pq.fit(vecs=Xt, iter=20, seed=123))
        else:
            opq = nanopq.OPQ(M=args.M, Ks=args.Ks, verbose=False)
            quantizer = timed(
                "fit", timings, lambda: opq.fit(vecs=Xt, pq_iter=20, rotation_iter=10, seed=123)
            )
        codes = timed("encode", timings, lambda: quantizer.encode(vecs=X))
        # nanopq's way: one distance table per query, then all distances.
        dists = timed(
            "adist", timings, lambda: [quantizer.dtable(query=q).adist(codes=codes) for q in queries]
        )
        top1 = np.array([[d.argmin()] for d in dists])
        # nanopq_cpp's batched top-k search.
        ids, _ = timed("search", timings, lambda: quantizer.dtable(query=queries).search(codes, topk=10))
        reconstructed = timed("decode", timings, lambda: quantizer.decode(codes=codes))
        error = float(np.mean(np.sum((X - reconstructed) ** 2, axis=1)))
        print(f"\n{name}: codes {codes.shape} {codes.dtype}, reconstruction error {error:.4f}")
        print(f"  recall@1 {recall_at(top1, truth):.3f}   recall@10 {recall_at(ids, truth):.3f}")
        print("  " + "   ".join(f"{step} {seconds * 1e3:.1f} ms" for step, seconds in timings.items()))
        if name == "PQ":
            pq_codes = (pq, codes)
    assert pq_codes is not None
    search_three_ways(*pq_codes, X, queries, truth)
    search_ivfpq(args.M, args.Ks, X, Xt, queries, truth)


def search_three_ways(
    pq: nanopq.PQ, codes: np.ndarray, X: np.ndarray, queries: np.ndarray, truth: np.ndarray
) -> None:
    """The flat scan, the packed fast scan (the same answers) and the inverted
    index (exact within the lists it visits), top-10 of every query."""
    print(f"\nSearching the PQ codes of {len(codes)} vectors, {len(queries)} queries, top-10:")
    table = pq.dtable(query=queries)
    timings: Dict[str, float] = {}
    flat_ids, _ = timed("flat", timings, lambda: table.search(codes, topk=10))
    rows = [("flat scan (exact ADC)", flat_ids, timings["flat"])]
    if pq.Ks <= 256:
        packed = pq.pack(codes)
        packed_ids, _ = timed("packed", timings, lambda: table.search(packed, topk=10))
        assert (packed_ids == flat_ids).all()  # the fast scan is exact
        rows.append(("packed fast scan (same ids)", packed_ids, timings["packed"]))
        index = timed("build", timings, lambda: nanopq.Rii(fine_quantizer=pq).add_configure(vecs=X))
        print(
            f"  Rii: {index.nlist} lists of about {index.L0} codes, built in {timings['build'] * 1e3:.0f} ms"
        )
        for multiple in (1, 4, 16):
            L = min(multiple * (index.L0 or 1), index.N)
            ids, _ = timed("rii", timings, lambda: index.search(queries, topk=10, L=L))
            rows.append((f"Rii, L = {multiple} x L0", ids, timings["rii"]))
    for label, ids, seconds in rows:
        print(f"  {label:30} recall@10 {recall_at(ids, truth):.3f}   {seconds * 1e3:7.1f} ms")


def search_ivfpq(
    M: int, Ks: int, X: np.ndarray, Xt: np.ndarray, queries: np.ndarray, truth: np.ndarray
) -> None:
    """IVFPQ: codes of the residuals to coarse centroids, exact within the probed lists."""
    nlist = max(1, min(int(np.sqrt(len(X))), len(Xt)))
    timings: Dict[str, float] = {}
    ivf = nanopq.IVFPQ(M=M, Ks=Ks, nlist=nlist, verbose=False)
    timed("build", timings, lambda: ivf.fit(vecs=Xt).add(vecs=X))
    print(f"\nIVFPQ (residual codes, {nlist} lists): fit and add in {timings['build'] * 1e3:.0f} ms")
    for nprobe in (1, 4, 16):
        ids, _ = timed("search", timings, lambda: ivf.search(queries, topk=10, nprobe=nprobe))
        label = f"nprobe = {nprobe}"
        print(f"  {label:30} recall@10 {recall_at(ids, truth):.3f}   {timings['search'] * 1e3:7.1f} ms")


if __name__ == "__main__":
    main()
