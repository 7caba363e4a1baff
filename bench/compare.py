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
  fast scan    at B = M bytes a vector: dtable(Q).search(pq.pack(codes), topk)
               of PQ(M=2B, Ks=16) / - / IndexPQFastScan PQ(2B)x4fs, the same codes;
               of PQ(M=B, Ks=256) / - / IndexPQ Bx8, the same codes, and
               IndexPQFastScan PQ(2B)x4fs trained by faiss

The exit status is 1 when a sanity check fails (a library left out, a time
that is not a positive number, an accuracy far from the others', a search of
packed codes that does not return what the search of the codes returns).

Example:
  python bench/compare.py --quick
  python bench/compare.py --threads 1 2 --json bench/results.json
  python bench/compare.py --jobs fast_scan --database 1000000 --threads 1 2
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence

# pqbench/ sits next to this file, and Python puts this file's folder first on sys.path.
from pqbench.accuracy import exact_neighbours
from pqbench.adapters import Settings, choose_adapters
from pqbench.checks import find_problems, print_problems
from pqbench.data import npy_dataset, synthetic_dataset
from pqbench.environment import machine_info, print_machine
from pqbench.jobs import JOBS, runnable_jobs, select_jobs
from pqbench.jobs.base import RunContext, all_operations
from pqbench.options import apply_quick, build_parser, parse_threads, validate
from pqbench.plot import save_plot
from pqbench.report import print_report
from pqbench.results_json import save_json
from pqbench.runner import run_at


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: parse, prepare data, run the jobs at every thread count, report, check."""
    parser = build_parser(
        __doc__,
        default_plot=os.path.join(os.path.dirname(__file__), "compare.png"),
        job_names=[job.name for job in JOBS],
    )
    args = parser.parse_args(argv)
    apply_quick(args, parser)
    threads = parse_threads(args.threads)
    jobs = select_jobs(args.jobs)
    info = machine_info()
    print_machine(info)

    sizes = {
        "train": args.train,
        "database": args.database,
        "adist_queries": args.adist_queries,
        "search_queries": args.queries,
        "seed": args.seed,
    }
    data = npy_dataset(args.npy, **sizes) if args.npy else synthetic_dataset(dim=args.dim, **sizes)
    validate(args, data.database.shape[1])
    settings = Settings(M=args.M, Ks=args.Ks, iters=args.iter, rotation_iters=args.rotation_iter, seed=123)
    adapters, skipped = choose_adapters(settings, skip_faiss=args.skip_faiss, skip_nanopq=args.skip_nanopq)
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
    jobs, skipped_jobs = runnable_jobs(jobs, ctx, named=args.jobs != parser.get_default("jobs"))
    if not jobs:
        raise SystemExit(f"no job can run: {'; '.join(skipped_jobs)}")
    # Only the libraries some job measures get a column (--jobs fast_scan: no nanopq).
    adapters = [adapter for adapter in adapters if any(adapter.name in job.libraries for job in jobs)]
    libraries = [adapter.name for adapter in adapters]
    print(f"\nRunning {', '.join(libraries)} at {', '.join(map(str, threads))} thread(s)...", flush=True)
    results = []
    for count in threads:
        started = time.perf_counter()
        results.append(run_at(count, jobs, adapters, ctx))
        print(f"  {count} thread(s) done in {time.perf_counter() - started:.0f} s", flush=True)
    print_report(results, libraries, ctx, skipped + skipped_jobs, jobs)
    if args.json:
        save_json(args.json, info, dict(vars(args)), ctx, results, jobs)
    if args.plot:
        save_plot(args.plot, results, [operation.key for operation in all_operations(jobs)])
    problems = find_problems(results, jobs, libraries)
    if problems:
        print_problems(problems)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
