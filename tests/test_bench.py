"""The benchmark's smoke run: `python bench/compare.py --quick` runs every job
with every installed library, so the benchmark cannot break unnoticed.

compare.py exits non-zero when a job fails or its numbers are broken (see
bench/pqbench/checks.py). Its JSON file must keep the layout of the recorded
bench/results.json, which bench/RESULTS.md and the plot were made from. A
new option, or a new job's operations and metrics, add names the recorded
file lacks: additions, not changes of the layout.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any, List

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
LIBRARIES = ("nanopq_cpp", "faiss", "nanopq")


def numbers_by_library(value_layout: Any) -> bool:
    """Whether a layout is that of {library: number}, the value of a speed-up or score."""
    return (
        isinstance(value_layout, dict)
        and set(value_layout) <= set(LIBRARIES)
        and all(item in ("float", "int") for item in value_layout.values())
    )


# Objects keyed by names that grow with the benchmark: compare.py's options,
# and the operations and metrics its jobs declare (bench/README.md, "Adding a
# job"). A name the recorded file lacks is allowed there, with a value of the
# layout given (None: any).
NAMED_ENTRIES = {
    "/arguments": None,
    "/runs[]/speedups": numbers_by_library,
    "/runs[]/accuracy": numbers_by_library,
}


def layout(value: Any) -> Any:
    """A JSON value's layout: the keys of objects, the layout of array items and
    the type of scalars; None for null, which stands for any type."""
    if isinstance(value, dict):
        return {key: layout(item) for key, item in value.items()}
    if isinstance(value, list):
        return [layout(item) for item in value]
    return None if value is None else type(value).__name__


def layout_differences(found: Any, expected: Any, where: str = "") -> List[str]:
    """How layout `found` departs from `expected`, one line each. The arrays of
    this format hold items of one layout, so each is compared with the first
    expected one. The objects of NAMED_ENTRIES may hold names `expected` lacks."""
    if found is None or expected is None:
        return []
    if isinstance(found, dict) and isinstance(expected, dict):
        lines = [f"missing {where}/{key}" for key in expected if key not in found]
        added = [key for key in found if key not in expected]
        if where in NAMED_ENTRIES:
            allowed = NAMED_ENTRIES[where]
            lines += [
                f"{where}/{key} is {found[key]}, expected numbers by library"
                for key in added
                if allowed is not None and not allowed(found[key])
            ]
        else:
            lines += [f"unexpected {where}/{key}" for key in added]
        for key in found.keys() & expected.keys():
            lines += layout_differences(found[key], expected[key], f"{where}/{key}")
        return lines
    if isinstance(found, list) and isinstance(expected, list):
        if not expected:
            return []
        return [line for item in found for line in layout_differences(item, expected[0], f"{where}[]")]
    if found != expected:
        return [f"{where} is {found}, expected {expected}"]
    return []


@pytest.mark.slow  # about 15 s on 2 busy cores
def test_quick_run_passes_its_checks_and_writes_the_recorded_layout(tmp_path):
    json_path, plot_path = tmp_path / "quick.json", tmp_path / "quick.png"
    command = [sys.executable, str(BENCH / "compare.py"), "--quick"]
    command += ["--json", str(json_path), "--plot", str(plot_path)]
    ran = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert ran.returncode == 0, f"{' '.join(command)}\n{ran.stdout}\n{ran.stderr}"

    run = json.loads(json_path.read_text(encoding="utf-8"))
    installed = [name for name in LIBRARIES if importlib.util.find_spec(name) is not None]
    for block in run["runs"]:
        assert {timing["library"] for timing in block["timings"]} == set(installed)

    recorded = json.loads((BENCH / "results.json").read_text(encoding="utf-8"))
    differences = layout_differences(layout(run), layout(recorded))
    if len(installed) < len(LIBRARIES):
        # Without a library its scores (and scipy's version, with nanopq) are absent.
        differences = [line for line in differences if not line.startswith("missing ")]
    assert not differences, "\n".join(differences)

    if importlib.util.find_spec("matplotlib") is not None:
        assert plot_path.stat().st_size > 0


def test_layout_differences_finds_missing_unexpected_and_retyped_fields():
    expected = layout({"runs": [{"threads": 1, "seconds": 0.5, "background": None}]})
    assert (
        layout_differences(layout({"runs": [{"threads": 2, "seconds": 0.1, "background": 0.3}]}), expected)
        == []
    )
    found = layout({"runs": [{"threads": "2", "extra": 1}]})
    assert sorted(layout_differences(found, expected)) == [
        "/runs[]/threads is str, expected int",
        "missing /runs[]/background",
        "missing /runs[]/seconds",
        "unexpected /runs[]/extra",
    ]


def test_layout_differences_allows_new_options_operations_and_metrics():
    expected = layout({"arguments": {"M": 16}, "runs": [{"speedups": {"encode": {"faiss": 2.0}}}]})
    found = layout(
        {
            "arguments": {"M": 16, "jobs": ["pq"]},
            "runs": [{"speedups": {"encode": {"faiss": 2.0}, "fast_scan_4bit": {"faiss": 1.5}}}],
        }
    )
    assert layout_differences(found, expected) == []
    found["runs"][0]["speedups"]["broken"] = {"faiss": "str"}
    found["runs"][0]["extra"] = "int"
    assert sorted(layout_differences(found, expected)) == [
        "/runs[]/speedups/broken is {'faiss': 'str'}, expected numbers by library",
        "unexpected /runs[]/extra",
    ]
