"""The command line of compare.py: options, --quick sizes, thread counts, validation."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from .environment import usable_cores

# --quick: every job on tiny data, seconds in all; the smoke run CI makes.
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


def build_parser(doc: str, default_plot: str, job_names: Sequence[str]) -> argparse.ArgumentParser:
    """The command-line interface; `doc` (compare.py's docstring) gives its description and
    epilog, `job_names` the jobs --jobs may name, in the order they run."""
    parser = argparse.ArgumentParser(
        prog="python bench/compare.py",
        description=doc.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n\n".join(doc.split("\n\n")[1:]),
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
    run.add_argument(
        "--jobs",
        nargs="+",
        choices=list(job_names),
        default=list(job_names),
        metavar="JOB",
        help=f"the jobs to run (default: all); they run in this order, whatever the order given: "
        f"{' '.join(job_names)}. shared_search needs pq",
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
        help="smoke run of every job (seconds): D=32, M=4, Ks=64, 3000/10000/100 vectors",
    )
    out = parser.add_argument_group("output")
    out.add_argument(
        "--plot",
        metavar="PATH",
        default=default_plot,
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
