"""The printed report: a timing table per thread count, the accuracy table and the notes."""

from __future__ import annotations

import math
from collections.abc import Sequence

from .background import background_note, busy_cores_elsewhere
from .jobs.base import Job, Metric, MetricKind, RunContext, all_metrics, all_operations
from .libraries import OTHER_LIBRARIES
from .notes import method_notes
from .results import RunResult, speedups


def format_seconds(seconds: float | None) -> str:
    """Human-readable duration with 3 significant digits."""
    if seconds is None or not math.isfinite(seconds):
        return "-"
    for unit, factor in (("s", 1.0), ("ms", 1e-3)):
        if seconds >= factor:
            return f"{seconds / factor:.3g} {unit}"
    return f"{seconds / 1e-6:.3g} us"


def format_ratio(ratio: float | None) -> str:
    """A speed-up factor such as '12.3x'."""
    return "-" if ratio is None else f"{ratio:.3g}x"


def format_metric(metric: Metric, value: float) -> str:
    """MSE with 4 significant digits, fractions as percentages."""
    return f"{value:.4g}" if metric.kind == MetricKind.ERROR else f"{100 * value:.1f}%"


def print_timing_table(
    result: RunResult, libraries: Sequence[str], ctx: RunContext, jobs: Sequence[Job]
) -> None:
    """The times and speed-up ratios of one thread count."""
    cells = {(t.operation, t.library): t for t in result.timings}
    ratios = speedups(result)
    header = f"{'operation':<40}" + "".join(f"{lib:>12}" for lib in libraries)
    others = [lib for lib in OTHER_LIBRARIES if lib in libraries]
    header += "".join(f"{'vs ' + lib:>12}" for lib in others)
    print(header)
    print("-" * len(header))
    for operation in all_operations(jobs):
        line = f"{operation.label(ctx):<40}"
        for lib in libraries:
            timing = cells.get((operation.key, lib))
            text = format_seconds(timing.seconds if timing else None)
            if timing and timing.scale != 1.0:
                text = "~" + text
            line += f"{text:>12}"
        for lib in others:
            line += f"{format_ratio(ratios.get(operation.key, {}).get(lib)):>12}"
        print(line)


def print_accuracy_table(results: Sequence[RunResult], libraries: Sequence[str], jobs: Sequence[Job]) -> None:
    """Accuracy from the last run, plus any metric that changed with the thread count."""
    metrics = all_metrics(jobs)
    last = results[-1]
    header = f"{'accuracy':<48}" + "".join(f"{lib:>12}" for lib in libraries)
    print(header)
    print("-" * len(header))
    for metric in metrics:
        values = last.accuracy.get(metric.key)
        if not values:
            continue
        line = f"{metric.label:<48}"
        for lib in libraries:
            value = values.get(lib)
            line += f"{'-' if value is None else format_metric(metric, value):>12}"
        print(line)
    labels = {metric.key: metric.label for metric in metrics}
    changed = [
        f"{labels.get(key, key)} [{lib}]: "
        + ", ".join(f"{r.threads}t={r.accuracy[key][lib]:.7g}" for r in results)
        for key, values in last.accuracy.items()
        for lib in values
        if len({r.accuracy.get(key, {}).get(lib) for r in results}) > 1
    ]
    if len(results) > 1:
        print("accuracy identical at every thread count" if not changed else "accuracy changed with threads:")
        for line in changed:
            print("  " + line)


def print_report(
    results: Sequence[RunResult],
    libraries: Sequence[str],
    ctx: RunContext,
    skipped: Sequence[str],
    jobs: Sequence[Job],
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
        print_timing_table(result, libraries, ctx, jobs)
        for remark in result.remarks:
            print(f"  note: {remark}")
    print()
    print_accuracy_table(results, libraries, jobs)
    print("\nNotes")
    for note in method_notes(ctx, jobs):
        print(f"  - {note}")
    print(f"  - background at the end: {background_note(busy_cores_elsewhere())}.")
