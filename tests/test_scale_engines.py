"""The helpers of the Ray and Spark tests (scale_engines.py): when they skip,
when CI's NANOPQ_CPP_SCALE_TESTS=required makes them fail, and reading Java's version."""

from __future__ import annotations

import subprocess

import pytest
import scale_engines


def test_installable_here_reads_the_scale_extra():
    assert scale_engines.installable_here("pyspark")  # no marker but the extra's
    assert not scale_engines.installable_here("no-such-engine")


def test_a_missing_engine_skips_unless_required(monkeypatch):
    monkeypatch.setattr(scale_engines, "REQUIRED", False)
    with pytest.raises(pytest.skip.Exception, match=r"pip install '\.\[scale\]'"):
        scale_engines.import_engine("no_such_engine_module", "no-such-engine")
    monkeypatch.setattr(scale_engines, "REQUIRED", True)
    monkeypatch.setattr(scale_engines, "installable_here", lambda distribution: True)
    with pytest.raises(ModuleNotFoundError):
        scale_engines.import_engine("no_such_engine_module", "no-such-engine")
    # Where the extra leaves the engine out (no wheels), even CI skips.
    monkeypatch.setattr(scale_engines, "installable_here", lambda distribution: False)
    with pytest.raises(pytest.skip.Exception):
        scale_engines.import_engine("no_such_engine_module", "no-such-engine")


@pytest.mark.parametrize(
    "shown, version",
    [
        ('openjdk version "17.0.15" 2025-04-15', 17),
        ('openjdk version "21" 2023-09-19', 21),
        ('java version "1.8.0_392"', 8),
        ('openjdk version "11.0.2" 2019-01-15', 11),
    ],
)
def test_java_versions_are_read_and_old_ones_refused(monkeypatch, shown, version):
    monkeypatch.setattr(scale_engines.shutil, "which", lambda name: "/usr/bin/java")
    monkeypatch.setattr(
        scale_engines.subprocess,
        "run",
        lambda *args, **kwargs: subprocess.CompletedProcess(args, 0, stdout="", stderr=shown),
    )
    monkeypatch.setattr(scale_engines, "REQUIRED", False)
    if version >= 17:
        scale_engines.require_java()
        return
    with pytest.raises(pytest.skip.Exception, match=f"found Java {version}"):
        scale_engines.require_java()
    monkeypatch.setattr(scale_engines, "REQUIRED", True)
    with pytest.raises(pytest.fail.Exception, match=f"found Java {version}"):
        scale_engines.require_java()


def test_no_java_skips(monkeypatch):
    monkeypatch.setattr(scale_engines.shutil, "which", lambda name: None)
    monkeypatch.setattr(scale_engines, "REQUIRED", False)
    with pytest.raises(pytest.skip.Exception, match="found no java"):
        scale_engines.require_java()
