"""Memory: encoding and scanning allocate their outputs and a small bounded
temporary, never N x Ks or N x M x Ks buffers.

Each measurement runs in a fresh interpreter and reads its own peak resident
set (VmHWM): ru_maxrss would not do, as Linux carries it over from the parent
through fork and exec, so a test process grown by earlier tests (to more than
the measured process uses) would inflate it. The bound is checked against
the resident set just before the call, so an earlier peak can only make the
test stricter, never let it pass.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import nanopq_cpp
import numpy as np
import pytest
from conftest import skip_under_asan
from nanopq_cpp.opq import _ROTATION_BLOCK

MIB = 2**20
# Thread stacks, the transposed codebook, per-task buffers, allocator slack.
SMALL_BOUND = 64 * MIB

pytestmark = skip_under_asan

MEASURE = textwrap.dedent(
    """
    import json, resource, sys
    import numpy as np
    import nanopq_cpp

    def rss_now():
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * resource.getpagesize()

    def peak_rss():
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024  # kB
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux

    M, Ks, Ds = 8, 256, 8
    rng = np.random.default_rng(0)
    pq = nanopq_cpp.PQ(M=M, Ks=Ks, verbose=False)
    pq.Ds = Ds
    pq.codewords = rng.random((M, Ks, Ds), dtype=np.float32)
    operation = sys.argv[1]
    if operation == "encode":
        argument = rng.random((1_000_000, M * Ds), dtype=np.float32)
        run = pq.encode
    elif operation == "opq_encode":
        opq = nanopq_cpp.OPQ(M=M, Ks=Ks, verbose=False)
        opq.pq = pq
        opq.R = np.linalg.qr(rng.normal(size=(M * Ds, M * Ds)))[0].astype(np.float32)
        argument = rng.random((1_000_000, M * Ds), dtype=np.float32)
        run = opq.encode
    else:
        argument = rng.integers(Ks, size=(4_000_000, M), dtype=np.uint8)
        table = pq.dtable(rng.random(M * Ds, dtype=np.float32))
        run = table.adist if operation == "adist" else lambda codes: table.search(codes, topk=100)
    run(argument[:5000])  # warm up: thread start-up, lazy imports, allocator pools
    try:
        # Peak := current RSS (Linux 4.0+), so numpy's temporaries while making
        # the input do not count; where this fails the test is only stricter.
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
    except OSError:
        pass
    before = rss_now()
    result = run(argument)
    output = result.nbytes if hasattr(result, "nbytes") else sum(part.nbytes for part in result)
    print(json.dumps({"growth": peak_rss() - before, "input": argument.nbytes, "output": output}))
    """
)


def measure(operation: str) -> dict:
    completed = subprocess.run(
        [sys.executable, "-c", MEASURE, operation], capture_output=True, text=True, timeout=300, check=False
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


def describe(sizes: dict) -> str:
    return ", ".join(f"{key} {value / MIB:.1f} MiB" for key, value in sizes.items())


def test_encoding_1m_vectors_adds_only_the_codes_and_a_small_temporary():
    sizes = measure("encode")
    assert sizes["input"] == 256 * 10**6 and sizes["output"] == 8 * 10**6
    assert sizes["growth"] <= sizes["output"] + SMALL_BOUND, describe(sizes)


def test_adist_over_4m_codes_adds_only_its_output():
    sizes = measure("adist")
    assert sizes["output"] == 16 * 10**6
    assert sizes["growth"] <= sizes["output"] + SMALL_BOUND, describe(sizes)


def test_top_k_over_4m_codes_adds_little():
    sizes = measure("search")
    assert sizes["growth"] <= sizes["output"] + SMALL_BOUND, describe(sizes)


def test_opq_encoding_rotates_in_blocks_not_a_copy_of_the_input():
    sizes = measure("opq_encode")
    assert sizes["growth"] <= sizes["output"] + SMALL_BOUND, describe(sizes)


@pytest.mark.parametrize("extra_rows", [0, 1, 2, 1000])
def test_opq_encoding_in_blocks_equals_encoding_all_at_once(extra_rows):
    rng = np.random.default_rng(1)
    opq = nanopq_cpp.OPQ(M=4, Ks=16, verbose=False)
    opq.pq = nanopq_cpp.PQ(M=4, Ks=16, verbose=False)
    opq.pq.Ds = 4
    opq.pq.codewords = rng.normal(size=(4, 16, 4)).astype(np.float32)
    opq.R = np.linalg.qr(rng.normal(size=(16, 16)))[0].astype(np.float32)
    vecs = rng.normal(size=(2 * _ROTATION_BLOCK + extra_rows, 16)).astype(np.float32)
    np.testing.assert_array_equal(opq.encode(vecs), opq.pq.encode(vecs @ opq.R))
