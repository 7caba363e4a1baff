"""The bar chart of nanopq_cpp's speed-ups (--plot), if matplotlib is installed."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .libraries import OTHER_LIBRARIES
from .report import format_ratio
from .results import RunResult, speedups


def save_plot(path: str, results: Sequence[RunResult], operations: Sequence[str]) -> None:
    """Bar chart of nanopq_cpp's speed-ups per operation (log scale), one bar group per operation key."""
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
        for lib in OTHER_LIBRARIES
        if any(lib in ratios for ratios in speedups(r).values())
    ]
    if not series:
        return
    ratios_by_threads = {r.threads: speedups(r) for r in results}
    width = 0.8 / len(series)
    fig, axis = plt.subplots(figsize=(max(8.0, 1.6 * len(operations)), 4.8))
    for position, (threads, lib) in enumerate(series):
        heights = [ratios_by_threads[threads].get(op, {}).get(lib, np.nan) for op in operations]
        offsets = np.arange(len(operations)) + (position - (len(series) - 1) / 2) * width
        bars = axis.bar(
            offsets, heights, width, label=f"vs {lib}, {threads} thread{'s' if threads > 1 else ''}"
        )
        # The exact factor on each bar: log-scale bar heights are hard to read off.
        axis.bar_label(bars, labels=[format_ratio(h) if np.isfinite(h) else "" for h in heights], fontsize=7)
    axis.axhline(1.0, color="black", linewidth=0.8)  # below this line nanopq_cpp is slower
    axis.set_yscale("log")
    axis.set_xticks(np.arange(len(operations)))
    axis.set_xticklabels(operations)
    axis.set_ylabel("nanopq_cpp speed-up (other time / nanopq_cpp time)")
    axis.set_title("nanopq_cpp speed-up over faiss and nanopq")
    axis.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"\nplot written to {path}")
