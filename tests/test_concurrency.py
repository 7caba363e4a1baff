"""Concurrency and determinism.

Search services call one shared quantizer from many threads; the core
releases the GIL, so these calls really overlap (and each may start its own
worker threads). Every result must equal the serial one, bit for bit.
Training must give the same codewords for one seed at any thread count.
(tests/test_training.py checks PQ.fit with M=2 at 1-3 threads; this module
adds M=1, where the threads split one k-means, and OPQ.)
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import nanopq_cpp
import numpy as np
import pytest
from conftest import correlated_clusters

N_PYTHON_THREADS = 8


@pytest.fixture(scope="module")
def data():
    vectors = correlated_clusters(12000, 32, seed=7)
    return vectors[:4000], vectors[4000:11000], vectors[11000:11040]


@pytest.fixture(scope="module")
def quantizers(data):
    training, _, _ = data
    pq = nanopq_cpp.PQ(M=8, Ks=256, verbose=False).fit(training, iter=3, seed=1)
    dot_pq = nanopq_cpp.PQ(M=4, Ks=300, metric="dot", verbose=False).fit(training, iter=2, seed=2)
    opq = nanopq_cpp.OPQ(M=8, Ks=64, verbose=False).fit(training, pq_iter=2, rotation_iter=2, seed=3)
    return {"pq": pq, "dot_pq": dot_pq, "opq": opq}


def workload(quantizers, data):
    """Calls (name, function) covering encode, decode, dtable, adist and search,
    single and batched, with and without a subset."""
    _, database, queries = data
    calls = []
    for name, quantizer in quantizers.items():
        codes = quantizer.encode(database)
        subset = np.arange(0, len(database), 3)
        calls += [
            (f"{name}.encode", lambda q=quantizer: q.encode(database)),
            (f"{name}.decode", lambda q=quantizer, c=codes: q.decode(c)),
            (f"{name}.dtable", lambda q=quantizer: q.dtable(queries).dtable),
            (f"{name}.adist", lambda q=quantizer, c=codes: q.dtable(queries[0]).adist(c)),
            (f"{name}.batch_adist", lambda q=quantizer, c=codes: q.dtable(queries[:8]).adist(c)),
            (f"{name}.search", lambda q=quantizer, c=codes: q.search(queries, c, topk=10)),
            (f"{name}.subset_search", lambda q=quantizer, c=codes, s=subset: q.search(queries[3], c, 5, s)),
        ]
    return calls


def assert_same(result, expected, name):
    if isinstance(expected, tuple):
        for part, expected_part in zip(result, expected):
            np.testing.assert_array_equal(part, expected_part, err_msg=name)
    else:
        np.testing.assert_array_equal(result, expected, err_msg=name)


@pytest.mark.parametrize("core_threads", [1, 2])
def test_shared_quantizers_give_the_serial_results_from_many_threads(
    quantizers, data, core_threads, restore_threads
):
    nanopq_cpp.set_num_threads(core_threads)
    calls = workload(quantizers, data)
    expected = {name: call() for name, call in calls}
    # Each call several times, interleaved, so different calls overlap.
    schedule = [calls[i % len(calls)] for i in range(4 * len(calls))]
    np.random.default_rng(0).shuffle(schedule)
    with ThreadPoolExecutor(max_workers=N_PYTHON_THREADS) as pool:
        results = list(pool.map(lambda named: (named[0], named[1]()), schedule))
    for name, result in results:
        assert_same(result, expected[name], name)


def test_changing_the_thread_count_during_calls_changes_no_result(quantizers, data, restore_threads):
    pq = quantizers["pq"]
    _, database, queries = data
    expected_codes = pq.encode(database)
    expected_search = pq.search(queries, expected_codes, topk=7)
    stop = threading.Event()

    def keep_changing_thread_count():
        for count in itertools.cycle([1, 3, 2, 4]):
            if stop.is_set():
                return
            nanopq_cpp.set_num_threads(count)

    changer = threading.Thread(target=keep_changing_thread_count)
    changer.start()
    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            codes = list(pool.map(lambda _: pq.encode(database), range(8)))
            searches = list(pool.map(lambda _: pq.search(queries, expected_codes, topk=7), range(8)))
    finally:
        stop.set()
        changer.join()
    for result in codes:
        np.testing.assert_array_equal(result, expected_codes)
    for result in searches:
        assert_same(result, expected_search, "search")


def test_concurrent_fits_give_the_serial_codewords(data):
    training, _, _ = data

    def fit(seed):
        return nanopq_cpp.PQ(M=4, Ks=32, verbose=False).fit(training, iter=3, seed=seed).codewords

    def fit_opq(seed):
        opq = nanopq_cpp.OPQ(M=4, Ks=16, verbose=False).fit(training, pq_iter=2, rotation_iter=2, seed=seed)
        return opq.R, opq.codewords

    expected = [fit(seed) for seed in range(4)] + [fit_opq(seed) for seed in range(2)]
    with ThreadPoolExecutor(max_workers=N_PYTHON_THREADS) as pool:
        futures = [pool.submit(fit, seed) for seed in range(4)] + [
            pool.submit(fit_opq, seed) for seed in range(2)
        ]
        results = [future.result() for future in futures]
    for index, (result, reference) in enumerate(zip(results, expected)):
        assert_same(result, reference, f"fit {index}")


@pytest.mark.parametrize("minit", ["points", "++", "random"])
def test_one_subspace_trains_identically_at_any_thread_count(minit, data, restore_threads):
    # With M=1 all threads work inside one k-means (assignment blocks and
    # k-means++ sampling), the split the M=2 test in test_training.py never uses.
    training, _, _ = data
    results = []
    for threads in (1, 2, 3):
        nanopq_cpp.set_num_threads(threads)
        for _ in range(2):
            pq = nanopq_cpp.PQ(M=1, Ks=64, verbose=False).fit(training[:, :8], iter=4, seed=11, minit=minit)
            results.append(pq.codewords)
    for other in results[1:]:
        np.testing.assert_array_equal(results[0], other)


def test_opq_trains_identically_at_any_thread_count(data, restore_threads):
    training, database, _ = data
    results = []
    for threads in (1, 2, 3):
        nanopq_cpp.set_num_threads(threads)
        for parametric_init in (False, True):
            opq = nanopq_cpp.OPQ(M=4, Ks=32, verbose=False)
            opq.fit(training, pq_iter=3, rotation_iter=3, seed=5, parametric_init=parametric_init)
            results.append((parametric_init, opq.R, opq.codewords, opq.encode(database[:500])))
    for parametric_init in (False, True):
        runs = [result[1:] for result in results if result[0] == parametric_init]
        for other in runs[1:]:
            assert_same(other, runs[0], f"OPQ parametric_init={parametric_init}")


@pytest.mark.parametrize("n", [4097, 100_000, 2**31, 2**64])
def test_set_num_threads_has_the_environment_variables_cap(n, restore_threads):
    with pytest.raises(nanopq_cpp.InputError, match=rf"^n must be <= 4096, got {n}$"):
        nanopq_cpp.set_num_threads(n)
    nanopq_cpp.set_num_threads(4096)
    assert nanopq_cpp.get_num_threads() == 4096


@pytest.mark.parametrize(
    ("value", "expected"),
    [("3", 3), (" 5 ", 5), ("99999", 4096), ("4x", None), ("2.5", None), ("-1", None), ("0", None)],
)
def test_the_thread_count_variable_takes_positive_integers_only(value, expected):
    """Documented: a positive integer, capped at 4096; anything else is ignored
    (the OMP_NUM_THREADS below, else every core)."""
    script = "import nanopq_cpp; print(nanopq_cpp.get_num_threads())"
    environment = {**os.environ, "NANOPQ_CPP_NUM_THREADS": value, "OMP_NUM_THREADS": "7"}
    result = subprocess.run([sys.executable, "-c", script], env=environment, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) == (7 if expected is None else expected)
    environment = {**os.environ, "OMP_NUM_THREADS": "6,2"}
    environment.pop("NANOPQ_CPP_NUM_THREADS", None)
    result = subprocess.run([sys.executable, "-c", script], env=environment, capture_output=True, text=True)
    assert int(result.stdout) == 6  # a count per nesting level: the first one
