"""Limits: Ks up to 2**32 (uint32 codes), and outputs too large to allocate.

A large Ks keeps working where memory allows; a request for more memory
than there is raises MemoryError naming what needed it, before anything is
allocated, instead of a crash or an out-of-memory kill.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import nanopq_cpp
import numpy as np
import pytest
from conftest import skip_under_asan
from nanopq_cpp import CodeError, InputError, _checks

KS_17 = 2**17


def brute_force_codes(codewords, vecs):
    """The nearest codeword per subspace by exhaustive squared distances, in float64."""
    M, _, Ds = codewords.shape
    codes = np.empty((len(vecs), M), np.int64)
    for m in range(M):
        words = codewords[m].astype(np.float64)
        for i, x in enumerate(vecs[:, m * Ds : (m + 1) * Ds].astype(np.float64)):
            codes[i, m] = ((words - x) ** 2).sum(-1).argmin()
    return codes


@pytest.fixture(scope="module")
def pq_2_17():
    """A PQ with Ks=2**17 trained for one iteration (the smallest uint32 case a power of two)."""
    rng = np.random.default_rng(0)
    training = rng.random((KS_17 + 100, 2), dtype=np.float32)
    return nanopq_cpp.PQ(M=1, Ks=KS_17, verbose=False).fit(training, iter=1, seed=4)


@pytest.mark.slow  # training Ks=2**17 codewords takes ~4 s on 2 cores
def test_ks_2_17_works_end_to_end_with_uint32_codes(pq_2_17):
    pq = pq_2_17
    assert pq.code_dtype == np.uint32 and pq.codewords.shape == (1, KS_17, 2)
    assert np.isfinite(pq.codewords).all()
    vecs = np.random.default_rng(1).random((200, 2), dtype=np.float32)
    codes = pq.encode(vecs)
    assert codes.dtype == np.uint32 and codes.max() >= 2**16  # beyond what uint16 could hold
    # Ties between near-equal codewords may differ in float32; the distance may not.
    expected = brute_force_codes(pq.codewords, vecs)
    chosen = ((pq.codewords[0][codes[:, 0]] - vecs) ** 2).sum(-1)
    best = ((pq.codewords[0][expected[:, 0]] - vecs) ** 2).sum(-1)
    np.testing.assert_allclose(chosen, best, rtol=1e-5, atol=1e-9)
    np.testing.assert_array_equal(pq.decode(codes), pq.codewords[0][codes[:, 0]])
    table = pq.dtable(vecs[0])
    np.testing.assert_allclose(
        table.dtable[0], ((pq.codewords[0] - vecs[0]) ** 2).sum(-1), rtol=1e-5, atol=1e-7
    )
    distances = table.adist(codes)
    np.testing.assert_array_equal(distances, table.dtable[0][codes[:, 0]])
    ids, top = table.search(codes, topk=5)
    order = np.lexsort((np.arange(len(codes)), distances))[:5]
    np.testing.assert_array_equal(ids, order)
    np.testing.assert_array_equal(top, distances[order])
    bad = codes.copy()
    bad[4, 0] = KS_17
    with pytest.raises(
        CodeError, match=r"codes\[4, 0\] = 131072 is not a valid code: codes must be < Ks = 131072"
    ):
        pq.decode(bad)
    with pytest.raises(CodeError, match="must be < Ks = 131072"):
        table.search(bad)


def test_ks_up_to_2_32_is_accepted_with_uint32_codes():
    assert nanopq_cpp.PQ(M=1, Ks=2**32, verbose=False).code_dtype == np.uint32
    assert nanopq_cpp.PQ(M=1, Ks=2**16 + 1, verbose=False).code_dtype == np.uint32
    assert nanopq_cpp.PQ(M=1, Ks=2**16, verbose=False).code_dtype == np.uint16
    with pytest.raises(InputError, match="Ks must be <= 4294967296, got 4294967297"):
        nanopq_cpp.PQ(M=1, Ks=2**32 + 1, verbose=False)


def test_a_strided_table_too_large_to_copy_is_refused_clearly():
    # A zero-stride view stands for a 1 TiB table (M=64, Ks=2**32) without
    # using memory; the contiguous copy the core needs is refused up front.
    tables = nanopq_cpp.DistanceTable(np.broadcast_to(np.float32(1.5), (64, 2**32)))
    with pytest.raises(MemoryError, match=r"a contiguous copy of dtable need 1.0 TiB, more than"):
        tables.adist(np.zeros((1, 64), np.uint32))


def huge_pq(M: int, Ks: int, Ds: int) -> nanopq_cpp.PQ:
    """A PQ whose codewords are a zero-stride view: as large as asked, using no memory."""
    pq = nanopq_cpp.PQ(M=M, Ks=Ks, verbose=False)
    pq.Ds = Ds
    pq.codewords = np.broadcast_to(np.float32(0.5), (M, Ks, Ds))
    return pq


@pytest.mark.parametrize(
    "use",
    [
        lambda pq: pq.dtable(np.zeros(1024, np.float32)),
        lambda pq: pq.encode(np.zeros((1, 1024), np.float32)),
        lambda pq: pq.decode(np.zeros((1, 1024), np.uint32)),
    ],
    ids=["dtable", "encode", "decode"],
)
def test_a_ks_2_32_model_too_large_for_memory_is_refused_clearly(use):
    pq = huge_pq(1024, 2**32, 1)  # 16 TiB of codewords
    with pytest.raises(
        MemoryError, match=r"a contiguous float32 copy of the codewords need 16.0 TiB, more than"
    ):
        use(pq)


def test_distance_tables_larger_than_memory_are_refused_before_allocating():
    pq = nanopq_cpp.PQ(M=2, Ks=2**20, verbose=False)
    pq.Ds = 1
    pq.codewords = np.zeros((2, 2**20, 1), np.float32)
    queries = np.broadcast_to(np.float32(0.0), (2**20, 2))  # 8 TiB of tables
    with pytest.raises(
        MemoryError, match=r"the distance tables \(1048576 x M=2 x Ks=1048576 float32\) need 8.0 TiB"
    ):
        pq.dtable(queries)


@pytest.fixture
def one_gib_of_memory(monkeypatch):
    """Pretend the machine has 1 GiB free, so the checks can be seen without allocating."""
    monkeypatch.setattr(_checks, "available_memory", lambda: 2**30)


def test_every_output_size_is_checked(one_gib_of_memory):
    pq = nanopq_cpp.PQ(M=2, Ks=2**20, verbose=False)
    pq.Ds = 1
    pq.codewords = np.zeros((2, 2**20, 1), np.float32)
    with pytest.raises(
        MemoryError,
        match=r"the distance tables \(200 x M=2 x Ks=1048576 float32\) need 1.6 GiB, more than the 1.0 GiB",
    ):
        pq.dtable(np.zeros((200, 2), np.float32))
    tables = nanopq_cpp.DistanceTable(np.zeros((2000, 1, 1), np.float32))
    codes = np.zeros((200_000, 1), np.uint8)
    with pytest.raises(MemoryError, match=r"the distances \(2000 x 200000 float32\) need 1.5 GiB"):
        tables.adist(codes)
    # 2.2 GiB of results, and as much again for the candidates the heaps hold.
    with pytest.raises(MemoryError, match=r"top-k results \(2000 queries x topk=100000\) need [4-9].\d GiB"):
        tables.search(codes, topk=100_000)
    wide = nanopq_cpp.PQ(M=1, Ks=2, verbose=False)
    wide.Ds = 4096
    wide.codewords = np.zeros((1, 2, 4096), np.float32)
    with pytest.raises(MemoryError, match=r"the 100000 decoded vectors need 1.5 GiB"):
        wide.decode(np.zeros((100_000, 1), np.uint8))


def test_a_top_k_beyond_the_address_space_is_a_memory_error():
    tables = nanopq_cpp.DistanceTable(np.zeros((1, 4), np.float32))
    with pytest.raises(
        MemoryError, match=r"topk=4611686018427387904\) need .* more than this platform can address"
    ):
        tables.search(np.zeros((3, 1), np.uint8), topk=2**62)


def test_small_outputs_are_not_checked(monkeypatch):
    def no_memory_information():
        raise AssertionError("available_memory() was consulted for a small allocation")

    monkeypatch.setattr(_checks, "available_memory", no_memory_information)
    pq = nanopq_cpp.PQ(M=2, Ks=16, verbose=False)
    pq.Ds = 2
    pq.codewords = np.zeros((2, 16, 2), np.float32)
    pq.search(np.zeros(4, np.float32), pq.encode(np.zeros((10, 4), np.float32)), topk=3)


def test_available_memory_is_known_here():
    available = _checks.available_memory()
    assert available is None or available > 0


def test_the_top_k_check_counts_the_heaps_and_the_packed_fallback(one_gib_of_memory, restore_threads):
    """Results that fit are not enough: the candidates a search holds, and for
    packed codes the exact fallback's buffers, count too."""
    nanopq_cpp.set_num_threads(1)
    tables = nanopq_cpp.DistanceTable(np.zeros((1000, 2, 16), np.float32))
    codes = np.zeros((200_000, 2), np.uint8)
    results = 1000 * 40_000 * 12  # 0.45 GiB: within the 1 GiB alone
    with pytest.raises(MemoryError, match=r"topk=40000\) need (\d+\.\d) GiB") as unpacked:
        tables.search(codes, topk=40_000)
    pq = nanopq_cpp.PQ(M=2, Ks=16, verbose=False)
    with pytest.raises(MemoryError, match=r"topk=40000\) need (\d+\.\d) GiB") as packed:
        tables.search(pq.pack(codes), topk=40_000)
    needed = [float(error.value.args[0].split(" need ")[1].split()[0]) for error in (unpacked, packed)]
    assert results / 2**30 < needed[0] < needed[1]


def run_under_address_space_limit(code: str) -> str:
    """Runs `code` in a child whose RLIMIT_AS leaves it 1 GiB beyond what it has mapped."""
    script = textwrap.dedent(
        """
        import resource
        import numpy as np
        import nanopq_cpp
        with open("/proc/self/status") as status:
            mapped = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmSize:"))
        resource.setrlimit(resource.RLIMIT_AS, (mapped + 2**30, resource.RLIM_INFINITY))
        """
    ) + textwrap.dedent(code)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_AS and /proc/self/status as on Linux")
@skip_under_asan
def test_rlimit_as_bounds_what_a_call_may_allocate():
    output = run_under_address_space_limit(
        """
        tables = nanopq_cpp.DistanceTable(np.zeros((1, 4), np.float32))
        try:
            tables.search(np.zeros((1000, 1), np.uint8), topk=200_000_000)  # 2.2 GiB of results
        except MemoryError as error:
            print("MemoryError:", error)
        """
    )
    assert output.startswith("MemoryError: the top-k results (1 queries x topk=200000000) need 2.2 GiB, more")


def write(path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_a_cgroup_limit_bounds_the_available_memory(tmp_path, version):
    """A container's memory limit, read as the kernel lays it out: the
    hierarchy mounted where /proc/self/mountinfo says, the process's cgroup
    from /proc/self/cgroup, the tightest limit of it and its parents."""
    proc, mount = tmp_path / "proc", tmp_path / "sys" / "memory"
    if version == "v2":
        write(proc / "cgroup", "0::/jobs/job1\n")
        write(proc / "mountinfo", f"30 23 0:26 / {mount} rw - cgroup2 cgroup2 rw\n")
        limit, usage, unlimited = "memory.max", "memory.current", "max"
    else:
        write(proc / "cgroup", "5:cpu:/\n4:memory:/jobs/job1\n0::/\n")
        write(proc / "mountinfo", f"35 31 0:32 / {mount} rw - cgroup cgroup rw,memory\n")
        limit, usage, unlimited = "memory.limit_in_bytes", "memory.usage_in_bytes", "9223372036854771712"
    write(mount / limit, unlimited)
    write(mount / "jobs" / limit, str(3 * 2**30))
    write(mount / "jobs" / usage, str(2**30))
    write(mount / "jobs" / "job1" / limit, unlimited)
    assert _checks._cgroup_headroom(str(proc)) == 2 * 2**30
    write(mount / "jobs" / "job1" / limit, str(2**30))
    write(mount / "jobs" / "job1" / usage, str(2**29))
    assert _checks._cgroup_headroom(str(proc)) == 2**29
    write(mount / "jobs" / "job1" / limit, unlimited)
    write(mount / "jobs" / limit, unlimited)
    assert _checks._cgroup_headroom(str(proc)) is None


def test_a_cgroup_mounted_below_its_root_is_found(tmp_path):
    """In a container the hierarchy's root is the container's own cgroup."""
    proc, mount = tmp_path / "proc", tmp_path / "cg"
    write(proc / "cgroup", "0::/pod7/box\n")
    write(proc / "mountinfo", f"30 23 0:26 /pod7 {mount} rw - cgroup2 cgroup2 rw\n")
    write(mount / "box" / "memory.max", str(2**31))
    write(mount / "box" / "memory.current", str(2**30))
    assert _checks._cgroup_headroom(str(proc)) == 2**30
