"""Model files under faults: a failed save keeps the old file, a load costs
about the model's size whatever its header claims, and a file that is not a
regular file is refused, never waited on.

Memory is measured in a fresh interpreter from its own VmHWM (not ru_maxrss,
which Linux carries over through fork and exec), against the resident set
just before the call.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import nanopq_cpp
import numpy as np
import pytest
from conftest import random_pq, skip_under_asan
from nanopq_cpp import ModelFileError

MIB = 2**20

pytestmark = pytest.mark.skipif(
    sys.platform != "linux", reason="RLIMIT_FSIZE, VmHWM and FIFOs as Linux has them"
)


def run_python(code: str, *args: object, timeout: float = 120) -> str:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def forged_header(M: int, Ks: int, Ds: int, payload_bytes: int, payload_crc: int = 0) -> bytes:
    """A model header whose own checksum is right, claiming what we like."""
    head = (
        b"\x89NPQ\r\n\x1a\n"
        + struct.pack("<IIII", 1, 1, 0, 0)
        + struct.pack("<QQQQI", M, Ks, Ds, payload_bytes, payload_crc)
    )
    return head + struct.pack("<I", zlib.crc32(head))


# -- atomic saves ---------------------------------------------------------------------------


SAVE_UNDER_FSIZE_LIMIT = """
    import os, resource, sys
    import numpy as np
    import nanopq_cpp
    path = sys.argv[1]
    big = nanopq_cpp.PQ(M=4, Ks=256, verbose=False)
    big.Ds = 16
    big.codewords = np.ones((4, 256, 16), np.float32)  # 64 KiB, past the limit below
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.RLIM_INFINITY))
    try:
        big.save(path)
    except OSError as error:
        print(type(error).__name__, error.errno)
    else:
        print("saved")
"""


@pytest.mark.parametrize("how", ["method", "function"])
def test_a_save_that_fails_partway_leaves_the_old_model_whole(tmp_path, how):
    path = tmp_path / "model.npq"
    small = random_pq(M=2, Ks=4, Ds=2, seed=1)
    small.save(path)
    before = path.read_bytes()
    code = (
        SAVE_UNDER_FSIZE_LIMIT
        if how == "method"
        else SAVE_UNDER_FSIZE_LIMIT.replace("big.save(path)", "nanopq_cpp.save(big, path)")
    )
    assert run_python(code, path).split() == ["OSError", "27"]  # EFBIG: the file size limit
    assert path.read_bytes() == before
    assert nanopq_cpp.load(path) == small
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.npq"]  # no temporary left behind


def test_a_save_replaces_the_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "model.npq"
    random_pq(M=2, Ks=4, Ds=2, seed=1).save(path)
    second = random_pq(M=4, Ks=16, Ds=3, seed=2)
    second.save(path)
    assert nanopq_cpp.load(path) == second
    assert [p.name for p in tmp_path.iterdir()] == ["model.npq"]


def test_a_save_follows_a_symbolic_link_to_the_model(tmp_path):
    target = tmp_path / "real.npq"
    random_pq(M=2, Ks=4, Ds=2, seed=1).save(target)
    link = tmp_path / "link.npq"
    link.symlink_to(target)
    second = random_pq(M=2, Ks=4, Ds=2, seed=2)
    second.save(link)
    assert link.is_symlink()
    assert nanopq_cpp.load(target) == second


def test_saving_over_a_directory_or_into_a_missing_one_raises_oserror(tmp_path):
    pq = random_pq(M=2, Ks=4, Ds=2, seed=1)
    with pytest.raises(IsADirectoryError):
        pq.save(tmp_path)
    with pytest.raises(FileNotFoundError):
        pq.save(tmp_path / "missing" / "model.npq")
    assert list(tmp_path.iterdir()) == []


# -- bounded loads --------------------------------------------------------------------------


LOAD_AND_MEASURE = """
    import json, resource, sys
    import nanopq_cpp

    def status(field):
        with open("/proc/self/status") as lines:
            for line in lines:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024

    before = status("VmRSS")
    try:
        model = nanopq_cpp.load(sys.argv[1])
        outcome = "loaded %s" % model.codewords.shape[1]
    except Exception as error:
        outcome = "%s: %s" % (type(error).__name__, error)
    print(json.dumps({"outcome": outcome, "added": status("VmHWM") - before}))
"""


def load_in_fresh_process(path: Path) -> dict:
    return json.loads(run_python(LOAD_AND_MEASURE, path).strip().splitlines()[-1])


@pytest.mark.slow
@skip_under_asan
def test_loading_a_model_costs_about_its_size(tmp_path):
    path = tmp_path / "model.npq"
    pq = nanopq_cpp.PQ(M=1, Ks=2**15, verbose=False)
    pq.Ds = 1024
    pq.codewords = np.random.default_rng(0).random((1, 2**15, 1024), dtype=np.float32)  # 128 MiB
    pq.save(path)
    del pq
    measured = load_in_fresh_process(path)
    assert measured["outcome"] == "loaded 32768"
    assert measured["added"] <= 1.25 * 128 * MIB, measured


@skip_under_asan
def test_a_forged_body_is_refused_before_it_is_allocated(tmp_path):
    """A valid header, a 512 MiB body (sparse here) whose checksum fails."""
    path = tmp_path / "forged.npq"
    payload = 2**17 * 1024 * 4
    with open(path, "wb") as stream:
        stream.write(forged_header(M=1, Ks=2**17, Ds=1024, payload_bytes=payload, payload_crc=12345))
        stream.truncate(64 + payload)
    measured = load_in_fresh_process(path)
    assert measured["outcome"].startswith("ModelFileError") and "checksum" in measured["outcome"]
    assert measured["added"] <= 16 * MIB, measured


@skip_under_asan
def test_a_header_claiming_ks_2_to_the_32_reads_nothing_large(tmp_path):
    path = tmp_path / "forged.npq"
    path.write_bytes(forged_header(M=1, Ks=2**32, Ds=1, payload_bytes=2**32 * 4) + bytes(64))
    measured = load_in_fresh_process(path)
    assert measured["outcome"].startswith("ModelFileError") and "truncated" in measured["outcome"]
    assert measured["added"] <= 16 * MIB, measured
    with pytest.raises(ModelFileError, match="truncated"):
        nanopq_cpp.model_file.read_header(path)


def test_a_fifo_is_refused_not_waited_on(tmp_path):
    fifo = tmp_path / "model.npq"
    os.mkfifo(fifo)
    # In a child with a timeout: a regression would block forever.
    outcome = run_python(
        """
        import sys, nanopq_cpp
        from nanopq_cpp import model_file
        for read in (nanopq_cpp.load, model_file.read_header):
            try:
                read(sys.argv[1])
            except nanopq_cpp.ModelFileError as error:
                print("refused:", error)
        """,
        fifo,
        timeout=60,
    )
    lines = outcome.strip().splitlines()
    assert len(lines) == 2 and all("not a regular file" in line for line in lines), outcome


def test_a_directory_or_a_missing_file_raises_oserror(tmp_path):
    with pytest.raises(IsADirectoryError):
        nanopq_cpp.load(tmp_path)
    with pytest.raises(FileNotFoundError):
        nanopq_cpp.load(tmp_path / "missing.npq")
    with pytest.raises(FileNotFoundError):
        nanopq_cpp.model_file.read_header(tmp_path / "missing.npq")
