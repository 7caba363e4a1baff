"""The index job's smoke run: `python bench/index.py --quick` builds and
sweeps every installed library (nanopq_cpp, rii, faiss) on small synthetic
data and exits non-zero when a run fails or its numbers are broken; its JSON
rows carry what bench/RESULTS.md reports."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench"


def test_index_job_runs_and_reports_every_installed_library(tmp_path):
    report = tmp_path / "index.json"
    completed = subprocess.run(
        [sys.executable, str(BENCH / "index.py"), "--quick", "--json", str(report)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    rows = json.loads(report.read_text())["rows"]
    libraries = {row["library"] for row in rows}
    assert "nanopq_cpp.Rii" in libraries
    if importlib.util.find_spec("rii"):
        assert "rii" in libraries
    if importlib.util.find_spec("faiss"):
        assert {"faiss IndexIVFPQ", "faiss IndexIVFPQFastScan"} <= libraries
    for row in rows:
        assert set(row) >= {"threads", "L", "r_at_10", "recall_at_10", "qps", "build_s", "memory_mb"}
        assert 0 <= row["r_at_10"] <= 1 and 0 <= row["recall_at_10"] <= 1 and row["qps"] > 0
    assert "rii's queries/s" in completed.stdout or not importlib.util.find_spec("rii")
