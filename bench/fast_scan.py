"""Fast scan of packed codes against faiss's IndexPQFastScan and IndexPQ.

Searches the same database at equal bytes per vector with:
  nanopq_cpp  pq.dtable(Q).search(codes, 10)      (the exact scan of unpacked codes)
              pq.dtable(Q).search(pq.pack(codes), 10)   (the fast scan; the same results)
  faiss       IndexPQFastScan (PQ{M}x4fs) and IndexPQ (PQ{M}x8)

for M=32/Ks=16 (16 bytes a vector) against PQ32x4fs, and M=16/Ks=256 (16 bytes)
against PQ32x4fs and IndexPQ 16x8. faiss's indexes get nanopq_cpp's codewords
(IndexPQ via nanopq_to_faiss, IndexPQFastScan built from that IndexPQ), so
both libraries search the same codes: differences in recall are faiss's
approximate fast scan, not training. Reports queries/s at each thread count,
recall@10 (the share of queries whose exact nearest neighbour, by float64
brute force, is among the 10 found), and, for searches of the same codes, the
share of the exact ADC top-10 (dt.search(codes)) that each one returns.

Example:
  python bench/fast_scan.py --quick
  python bench/fast_scan.py --database 1000000 --threads 1 2 --json bench/fast_scan.json
  python bench/fast_scan.py --npy embeddings.npy    # your own (N, D) float32 vectors
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

import nanopq_cpp
import numpy as np

try:
    import faiss
except ImportError:  # then only nanopq_cpp is measured
    faiss = None


def synthetic_vectors(count: int, dim: int, seed: int, layout_seed: int) -> np.ndarray:
    """Gaussian clusters with decaying per-dimension variance, randomly rotated
    (as bench/compare.py makes them): correlated dimensions, like embeddings."""
    layout = np.random.default_rng(layout_seed)
    spread = np.exp(-6.0 * np.arange(dim) / dim)
    centres = layout.normal(size=(100, dim)) * spread
    rotation, _ = np.linalg.qr(layout.normal(size=(dim, dim)))
    rng = np.random.default_rng(seed)
    out = np.empty((count, dim), dtype=np.float32)
    for start in range(0, count, 65536):
        stop = min(start + 65536, count)
        labels = rng.integers(100, size=stop - start)
        out[start:stop] = (centres[labels] + rng.normal(size=(stop - start, dim)) * spread) @ rotation
    return out


def load_data(args: argparse.Namespace):
    if args.npy:
        vectors = np.load(args.npy, mmap_mode="r")
        order = np.random.default_rng(args.seed).permutation(len(vectors))
        n_database = min(args.database, len(vectors) - args.train - args.queries)
        train = np.asarray(vectors[np.sort(order[: args.train])], dtype=np.float32)
        queries = np.asarray(
            vectors[np.sort(order[args.train : args.train + args.queries])], dtype=np.float32
        )
        rest = np.sort(order[args.train + args.queries : args.train + args.queries + n_database])
        database = np.asarray(vectors[rest], dtype=np.float32)
        source = f"{args.npy} ({len(vectors):,} x {vectors.shape[1]}, shuffled with seed {args.seed})"
        return train, database, queries, source
    train = synthetic_vectors(args.train, args.dim, args.seed + 1, args.seed)
    database = synthetic_vectors(args.database, args.dim, args.seed + 2, args.seed)
    queries = synthetic_vectors(args.queries, args.dim, args.seed + 3, args.seed)
    return train, database, queries, f"synthetic clusters, D={args.dim} (seed {args.seed})"


def exact_nearest(database: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Each query's nearest database vector in squared l2, by float64 brute force."""
    best = np.full(len(queries), np.inf)
    nearest = np.zeros(len(queries), dtype=np.int64)
    q = queries.astype(np.float64)
    for start in range(0, len(database), 65536):
        block = database[start : start + 65536].astype(np.float64)
        distances = np.einsum("ij,ij->i", block, block)[None, :] - 2.0 * q @ block.T
        arg = distances.argmin(axis=1)
        value = distances[np.arange(len(q)), arg]
        closer = value < best
        best[closer], nearest[closer] = value[closer], arg[closer] + start
    return nearest


def recall_at_10(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean(np.any(found[:, :10] == truth[:, None], axis=1)))


def best_times(runs: Dict[str, Callable[[], Any]], repeat: int) -> Dict[str, Tuple[float, float]]:
    """For each run, the shortest wall-clock time of `repeat` runs and the
    shortest CPU time of the calling thread (which does all the work at one
    thread, in both libraries). The runs take turns, so a change in the
    machine's load hits all of them alike; on a shared machine the CPU time,
    which leaves out the time other processes hold the core, is the steadier
    one-thread number."""
    for run in runs.values():
        run()  # warm-up: page faults, thread start, caches
    walls: Dict[str, List[float]] = {name: [] for name in runs}
    cpus: Dict[str, List[float]] = {name: [] for name in runs}
    for _ in range(repeat):
        for name, run in runs.items():
            start, start_cpu = time.perf_counter(), time.thread_time()
            run()
            walls[name].append(time.perf_counter() - start)
            cpus[name].append(time.thread_time() - start_cpu)
    return {name: (min(walls[name]), min(cpus[name])) for name in runs}


def set_threads(threads: int) -> None:
    nanopq_cpp.set_num_threads(threads)
    if faiss is not None:
        faiss.omp_set_num_threads(threads)


def background_load() -> float:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a small smoke run (50k vectors)")
    parser.add_argument("--database", type=int, default=1_000_000)
    parser.add_argument("--train", type=int, default=50_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--npy", help="(N, D) float32 vectors to use instead of synthetic ones")
    parser.add_argument("--json", help="write every number here")
    args = parser.parse_args(argv)
    if args.quick:
        args.database, args.train, args.queries, args.repeat = 50_000, 5_000, 100, 2

    train, database, queries, source = load_data(args)
    D = database.shape[1]
    print(f"nanopq_cpp {nanopq_cpp.__version__}, faiss {faiss.__version__ if faiss else '(not installed)'}")
    print(f"{platform.processor() or platform.machine()}; SIMD level {nanopq_cpp.get_simd_level()}")
    nanopq_cpp.show_config()
    print(f"data: {source}; database {len(database):,}, queries {len(queries)}, top-10")
    truth = exact_nearest(database, queries)

    results: List[Dict[str, Any]] = []
    for M, Ks in ((32, 16), (16, 256)):
        nbits = int(np.log2(Ks))
        pq = nanopq_cpp.PQ(M=M, Ks=Ks, verbose=False).fit(train, iter=10, seed=1)
        start = time.perf_counter()
        codes = pq.encode(database)
        encode_s = time.perf_counter() - start
        start = time.perf_counter()
        packed = pq.pack(codes)
        pack_s = time.perf_counter() - start
        print(f"\n== M={M}, Ks={Ks} ({M * nbits // 8} bytes a vector)")
        print(f"encode {encode_s:.2f} s, pack {pack_s * 1e3:.1f} ms")
        # Each run returns (ids, distances); faiss's search returns them the other way round.
        runs: Dict[str, Callable[[], Any]] = {
            f"nanopq_cpp M={M},Ks={Ks} packed": lambda: pq.dtable(queries).search(packed, topk=10),
            f"nanopq_cpp M={M},Ks={Ks} codes": lambda: pq.dtable(queries).search(codes, topk=10),
        }
        if faiss is not None:
            index_pq = nanopq_cpp.nanopq_to_faiss(pq)
            index_pq.add(database)
            if nbits == 4:
                fast = faiss.IndexPQFastScan(index_pq)
                runs[f"faiss PQ{M}x4fs"] = lambda: fast.search(queries, 10)[::-1]
            else:
                # The same bytes a vector with 4-bit codes: PQ(2M)x4fs, trained by faiss.
                fast = faiss.IndexPQFastScan(D, 2 * M, 4)
                fast.train(train)
                fast.add(database)
                runs[f"faiss PQ{2 * M}x4fs (own training)"] = lambda: fast.search(queries, 10)[::-1]
                runs[f"faiss IndexPQ {M}x8"] = lambda: index_pq.search(queries, 10)[::-1]
        exact_adc = pq.dtable(queries).search(codes, topk=10)[0]
        rows: Dict[str, Dict[str, Any]] = {}
        for name, run in runs.items():
            found = np.asarray(run()[0]).reshape(len(queries), -1)
            row: Dict[str, Any] = {"name": name, "M": M, "Ks": Ks, "recall@10": recall_at_10(found, truth)}
            if not name.endswith("(own training)"):  # the same codes: compare with the exact ADC top-10
                row["adc_top10_agreement"] = float(
                    np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, exact_adc)])
                )
            rows[name] = row
        for threads in args.threads:
            set_threads(threads)
            for name, (wall, cpu) in best_times(runs, args.repeat).items():
                rows[name][f"qps_{threads}"] = len(queries) / wall
                if threads == 1:
                    rows[name]["qps_1_cpu"] = len(queries) / cpu
                rows[name][f"load_{threads}"] = background_load()
        for name, row in rows.items():
            results.append(row)
            cells = "  ".join(f"{row[f'qps_{t}']:8.0f} q/s ({t}t)" for t in args.threads)
            cpu_cell = f"  {row['qps_1_cpu']:8.0f} q/s (1t, CPU time)" if "qps_1_cpu" in row else ""
            agreement = row.get("adc_top10_agreement")
            same = f" exact-ADC top-10 {agreement:6.1%}" if agreement is not None else " " * 22
            print(f"{name:38s} recall@10 {row['recall@10']:.3f}{same} {cells}{cpu_cell}")
        ours = results[-len(runs)]
        for row in results[-len(runs) + 1 :]:
            ratio = ours["qps_1"] / row["qps_1"]
            ratio_cpu = ours.get("qps_1_cpu", float("nan")) / row.get("qps_1_cpu", float("nan"))
            print(f"  packed vs {row['name']}: {ratio:.2f}x at 1 thread ({ratio_cpu:.2f}x by CPU time)")
        for t in args.threads[1:]:
            print(f"  packed, {t} threads / 1 thread: {ours[f'qps_{t}'] / ours['qps_1']:.2f}x")
    print(f"\nload average at the end: {background_load():.2f} (other processes share this machine)")
    if args.json:
        with open(args.json, "w") as stream:
            json.dump(
                {"source": source, "database": len(database), "queries": len(queries), "results": results},
                stream,
                indent=1,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
