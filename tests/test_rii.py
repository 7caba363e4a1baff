"""nanopq_cpp.Rii: exact within the lists it visits, rii's rule for which,
user ids, removal, state, threads and errors; compared with rii 0.2.12 where
it answers the same question."""

from __future__ import annotations

import copy
import pickle

import nanopq_cpp
import numpy as np
import pytest
from conftest import correlated_clusters, reference_pq

D = 16


@pytest.fixture(scope="module")
def data():
    X = correlated_clusters(5000, D, seed=7)
    return X[:4000], X[4000:4100]


def make_index(X, M=4, Ks=256, metric="l2", nlist=40, opq=False):
    codec = (nanopq_cpp.OPQ if opq else nanopq_cpp.PQ)(M=M, Ks=Ks, metric=metric, verbose=False)
    codec.fit(X[:2000], iter=5, seed=3) if not opq else codec.fit(
        X[:2000], pq_iter=5, rotation_iter=3, seed=3
    )
    return nanopq_cpp.Rii(codec).add_configure(X, nlist=nlist)


def pq_space(index, queries):
    quantizer = index.fine_quantizer
    return quantizer.rotate(queries) if isinstance(quantizer, nanopq_cpp.OPQ) else queries


def visited_rows(index, query, topk, L, targets=None):
    """rii's rule, written again from its description: lists by the l2 distance
    (or inner product) from the query to their decoded centers, L candidates
    (targets only) list by list, and a stop after w lists once topk are found.
    None where two lists nearly tie, so that rounding may order them otherwise."""
    pq = index.fine_quantizer.pq if isinstance(index.fine_quantizer, nanopq_cpp.OPQ) else index.fine_quantizer
    centers = pq.decode(index.coarse_centers).astype(np.float64)
    q = pq_space(index, query).astype(np.float64)
    keys = -(centers @ q) if pq.metric == "dot" else ((centers - q) ** 2).sum(axis=1)
    order = np.argsort(keys, kind="stable")
    gaps = np.diff(keys[order])
    if np.any(gaps[: 3 + L // max(index.L0, 1) * 3] < 1e-4 * max(1.0, abs(keys).max())):
        return None
    lists = index.posting_lists
    wanted = set(range(index.N)) if targets is None else set(targets.tolist())
    n_candidates = index.N if targets is None else len(targets)
    w = min(index.nlist, int(round(L * index.nlist / n_candidates)) + 3)
    taken = []
    for i, list_id in enumerate(order):
        for row in lists[list_id]:
            if row in wanted:
                taken.append(row)
                if len(taken) == L:
                    return np.array(taken)
        if i + 1 == w and len(taken) >= topk:
            break
    return np.array(taken)


@pytest.mark.parametrize(
    "Ks, metric, opq",
    [(256, "l2", False), (16, "l2", False), (100, "l2", False), (256, "dot", False), (64, "l2", True)],
)
def test_the_lists_are_exact_within_the_rows_they_visit(data, Ks, metric, opq):
    X, Q = data
    index = make_index(X, Ks=Ks, metric=metric, opq=opq)
    dt = index.fine_quantizer.dtable(Q)
    codes = index.codes
    checked = 0
    for L in (index.L0, 4 * index.L0):
        ids, dists = index.search(Q, topk=10, L=L, method="ivf")
        assert (
            ids.shape == dists.shape == (len(Q), 10) and ids.dtype == np.int64 and dists.dtype == np.float32
        )
        for q in range(len(Q)):
            rows = visited_rows(index, Q[q], 10, L)
            if rows is None:
                continue
            expected_ids, expected_dists = nanopq_cpp.DistanceTable(dt.dtable[q], metric=metric).search(
                codes, 10, subset=np.sort(rows)
            )
            np.testing.assert_array_equal(ids[q], expected_ids)
            np.testing.assert_array_equal(dists[q], expected_dists)
            checked += 1
    assert checked > len(Q)  # few near ties


@pytest.mark.parametrize("Ks, metric", [(256, "l2"), (16, "l2"), (256, "dot")])
def test_L_of_N_is_the_flat_exact_search(data, Ks, metric):
    X, Q = data
    index = make_index(X, Ks=Ks, metric=metric)
    flat_ids, flat_dists = index.fine_quantizer.dtable(Q).search(index.codes, 20)
    for method in ("ivf", "linear"):
        ids, dists = index.search(Q, topk=20, L=index.N, method=method)
        np.testing.assert_array_equal(ids, flat_ids)
        np.testing.assert_array_equal(dists, flat_dists)


def test_subsets_of_every_size_are_exact(data):
    X, Q = data
    index = make_index(X)
    dt = index.fine_quantizer.dtable(Q[:20])
    rng = np.random.default_rng(5)
    for size in (1, 7, 150, 2000, index.N):
        targets = rng.choice(index.N, size=size, replace=False).astype(np.int64)
        expected = dt.search(index.codes, 10, subset=np.sort(targets))
        for method in ("linear", "ivf", "auto"):
            ids, dists = index.search(Q[:20], topk=10, L=index.N, target_ids=targets, method=method)
            np.testing.assert_array_equal(ids, expected[0])
            np.testing.assert_array_equal(dists, expected[1])
        ids, _ = index.search(Q[:20], topk=10, L=index.L0, target_ids=targets, method="ivf")
        assert np.all(np.isin(ids[ids >= 0], targets))
        for q in range(3):
            rows = visited_rows(index, Q[q], 10, index.L0, targets)
            if rows is not None and len(rows):
                expected_q = nanopq_cpp.DistanceTable(dt.dtable[q]).search(
                    index.codes, 10, subset=np.sort(rows)
                )
                np.testing.assert_array_equal(ids[q], expected_q[0])


def test_results_do_not_depend_on_the_thread_count(data, restore_threads):
    X, Q = data
    results = []
    for threads in (1, 2, 3):
        nanopq_cpp.set_num_threads(threads)
        index = make_index(X)
        results.append((index.coarse_centers, index.posting_lists, *index.search(Q, topk=5, L=2 * index.L0)))
    for other in results[1:]:
        np.testing.assert_array_equal(results[0][0], other[0])
        assert results[0][1] == other[1]
        np.testing.assert_array_equal(results[0][2], other[2])
        np.testing.assert_array_equal(results[0][3], other[3])


def test_query_is_the_one_row_search_with_rii_types(data):
    X, Q = data
    index = make_index(X)
    ids, dists = index.query(Q[0], topk=5, L=3 * index.L0)
    assert ids.dtype == np.int64 and dists.dtype == np.float64 and ids.shape == (5,)
    batch_ids, batch_dists = index.search(Q[:1], topk=5, L=3 * index.L0)
    np.testing.assert_array_equal(ids, batch_ids[0])
    np.testing.assert_array_equal(dists, batch_dists[0].astype(np.float64))
    one_ids, one_dists = index.search(Q[0], topk=5, L=3 * index.L0)
    assert one_ids.shape == (5,)
    np.testing.assert_array_equal(one_ids, ids)


def test_matches_rii_on_the_same_codewords(data):
    rii = pytest.importorskip("rii")
    X, Q = data
    ours = make_index(X)
    theirs = rii.Rii(fine_quantizer=reference_pq(ours.fine_quantizer)).add_configure(X, nlist=40)
    theirs.verbose = False
    np.testing.assert_array_equal(ours.codes, theirs.codes)
    same = 0
    for q in Q[:30]:
        their_ids, their_dists = theirs.query(q, topk=10, method="linear")
        our_ids, our_dists = ours.query(q, topk=10, method="linear")
        # rii sums its own float table (SIMD l2): distances agree to rounding.
        np.testing.assert_allclose(our_dists, their_dists, rtol=1e-5, atol=1e-4)
        same += np.array_equal(our_ids, their_ids)
        ivf_ids, _ = ours.query(q, topk=10, L=ours.N, method="ivf")
        np.testing.assert_array_equal(ivf_ids, our_ids)
    assert same >= 27  # ids differ only at rounding ties


def test_own_ids_and_removal(data):
    X, Q = data
    codec = nanopq_cpp.PQ(M=4, verbose=False).fit(X[:2000], iter=5, seed=3)
    index = nanopq_cpp.Rii(codec)
    ids = np.arange(len(X), dtype=np.int64) * 10 + 1000
    index.add(X, update_posting_lists=False, ids=ids)
    index.reconfigure(nlist=30)
    np.testing.assert_array_equal(index.ids, ids)
    assert sorted(sum(index.posting_lists, [])) == ids.tolist()
    flat_ids, flat_dists = codec.dtable(Q).search(index.codes, 10)
    found, dists = index.search(Q, topk=10, L=index.N)
    np.testing.assert_array_equal(found, ids[flat_ids])
    np.testing.assert_array_equal(dists, flat_dists)
    gone = ids[::3]
    index.remove(gone)
    assert index.N == len(X) - len(gone) and not np.isin(index.ids, gone).any()
    found, dists = index.search(Q, topk=10, L=index.N)
    assert not np.isin(found, gone).any()
    kept = ~np.isin(ids, gone)
    flat_ids, flat_dists = codec.dtable(Q).search(index.codes, 10)
    np.testing.assert_array_equal(found, index.ids[flat_ids])
    np.testing.assert_array_equal(index.codes, codec.encode(X[kept]))
    # new rows join the lists and get ids past the largest
    index.add(X[:5])
    assert index.ids[-5:].tolist() == list(range(ids.max() + 1, ids.max() + 6))
    assert set(index.ids[-5:].tolist()) <= set(sum(index.posting_lists, []))


def test_rows_added_without_the_lists_are_found_by_the_linear_scan_only(data):
    X, Q = data
    index = make_index(X[:3000])
    index.add(X[3000:], update_posting_lists=False)
    assert index.N == len(X) and sum(len(p) for p in index.posting_lists) == 3000
    ids, _ = index.search(Q, topk=5, L=index.N, method="ivf")
    assert ids.max() < 3000
    linear, _ = index.search(Q, topk=5, method="linear")
    assert linear.max() >= 3000


def test_pickle_and_deepcopy_keep_everything(data):
    X, Q = data
    index = make_index(X, opq=True)
    index.remove(np.array([5, 17], dtype=np.int64))
    for clone in (pickle.loads(pickle.dumps(index)), copy.deepcopy(index)):
        assert (clone.M, clone.Ks, clone.N, clone.nlist, clone.L0) == (
            index.M,
            index.Ks,
            index.N,
            index.nlist,
            index.L0,
        )
        np.testing.assert_array_equal(clone.codes, index.codes)
        np.testing.assert_array_equal(clone.ids, index.ids)
        np.testing.assert_array_equal(clone.coarse_centers, index.coarse_centers)
        assert clone.posting_lists == index.posting_lists and clone.threshold == index.threshold
        for a, b in zip(clone.search(Q, topk=5), index.search(Q, topk=5)):
            np.testing.assert_array_equal(a, b)


def test_merge_appends_codes_with_new_ids(data):
    X, _ = data
    codec = nanopq_cpp.PQ(M=4, verbose=False).fit(X[:2000], iter=5, seed=3)
    first = nanopq_cpp.Rii(codec).add_configure(X[:1000], nlist=20)
    second = nanopq_cpp.Rii(codec).add_configure(X[1000:1500], nlist=10)
    first.merge(second)
    assert first.N == 1500 and first.nlist == 20
    np.testing.assert_array_equal(first.codes, codec.encode(X[:1500]))
    assert sorted(sum(first.posting_lists, [])) == list(range(1500))


def test_bad_input_gets_clear_errors(data):
    X, Q = data
    codec = nanopq_cpp.PQ(M=4, verbose=False).fit(X[:2000], iter=5, seed=3)
    empty = nanopq_cpp.Rii(codec)
    with pytest.raises(nanopq_cpp.InputError, match="empty"):
        empty.search(Q, topk=1)
    with pytest.raises(nanopq_cpp.InputError, match="empty"):
        empty.query(Q[0])
    with pytest.raises(nanopq_cpp.InputError, match="reconfigure"):
        empty.add(X[:10], update_posting_lists=True)
    index = nanopq_cpp.Rii(codec).add_configure(X[:1000], nlist=20)
    with pytest.raises(nanopq_cpp.InputError, match="topk<=L"):
        index.search(Q, topk=10, L=5)
    with pytest.raises(nanopq_cpp.DTypeError, match="int64"):
        index.search(Q, topk=1, target_ids=np.arange(10, dtype=np.int32))
    with pytest.raises(nanopq_cpp.DTypeError, match="int64"):
        index.query(Q[0], target_ids=[1, 2, 3])
    with pytest.raises(nanopq_cpp.CodeError, match="target_ids\\[1\\] = 5000 is not an id"):
        index.search(Q, topk=1, target_ids=np.array([3, 5000], dtype=np.int64))
    with pytest.raises(nanopq_cpp.InputError, match="more than once"):
        index.search(Q, topk=1, target_ids=np.array([3, 3], dtype=np.int64))
    with pytest.raises(nanopq_cpp.InputError, match="already in the index"):
        index.add(X[:2], ids=np.array([7, 2000], dtype=np.int64))
    with pytest.raises(nanopq_cpp.InputError, match="more than once"):
        index.add(X[:2], ids=np.array([2000, 2000], dtype=np.int64))
    with pytest.raises(nanopq_cpp.InputError, match="one id per vector"):
        index.add(X[:2], ids=np.array([2000], dtype=np.int64))
    with pytest.raises(nanopq_cpp.CodeError, match="not an id"):
        index.remove(np.array([1, 99999], dtype=np.int64))
    assert index.N == 1000  # refused calls change nothing
    other = nanopq_cpp.Rii(nanopq_cpp.PQ(M=8, verbose=False).fit(X[:2000], iter=2, seed=3))
    with pytest.raises(nanopq_cpp.InputError, match="same fine quantizer"):
        index.merge(other)
    with pytest.raises(nanopq_cpp.InputError, match="nlist"):
        index.reconfigure(nlist=5000)
    with pytest.raises(nanopq_cpp.InputError, match="Ks must be <= 256"):
        nanopq_cpp.Rii(nanopq_cpp.PQ(M=4, Ks=300, verbose=False))
    with pytest.raises(nanopq_cpp.NotFittedError):
        nanopq_cpp.Rii(nanopq_cpp.PQ(M=4, verbose=False))
    with pytest.raises(nanopq_cpp.InputError, match="fine_quantizer"):
        nanopq_cpp.Rii("pq")
    with pytest.raises(nanopq_cpp.InputError, match="method"):
        index.search(Q, topk=1, method="fast")
    with pytest.raises(nanopq_cpp.InputError, match="D"):
        index.search(Q[:, :8], topk=1)
    huge = np.full((1, D), 1e30, dtype=np.float32)
    with pytest.raises(nanopq_cpp.InputError, match="too large for float32"):
        index.search(huge, topk=1)


@pytest.mark.parametrize("opq", [False, True])
def test_save_and_load_give_the_same_index(data, tmp_path, opq):
    X, Q = data
    index = make_index(X, opq=opq)
    index.remove(np.array([0, 9], dtype=np.int64))
    index.add(X[:3], update_posting_lists=False)
    path = tmp_path / "index.npqidx"
    index.save(path)
    loaded = nanopq_cpp.Rii.load(path)
    assert loaded.fine_quantizer == index.fine_quantizer or (
        type(loaded.fine_quantizer) is type(index.fine_quantizer)
        and np.array_equal(loaded.codewords, index.codewords)
    )
    np.testing.assert_array_equal(loaded.codes, index.codes)
    np.testing.assert_array_equal(loaded.ids, index.ids)
    assert loaded.posting_lists == index.posting_lists
    for a, b in zip(loaded.search(Q, topk=5, L=2 * index.L0), index.search(Q, topk=5, L=2 * index.L0)):
        np.testing.assert_array_equal(a, b)
    loaded.add(X[:1])
    index.add(X[:1])
    np.testing.assert_array_equal(loaded.ids, index.ids)  # the next id survives the file


def test_index_files_are_checked(data, tmp_path):
    X, _ = data
    index = make_index(X[:500], nlist=10)
    path = tmp_path / "index.npqidx"
    index.save(path)
    good = path.read_bytes()
    for position in (3, 20, 64 + 70, len(good) - 5):  # magic, header, the quantizer, the arrays
        broken = bytearray(good)
        broken[position] ^= 0xFF
        path.write_bytes(bytes(broken))
        with pytest.raises(nanopq_cpp.ModelFileError):
            nanopq_cpp.Rii.load(path)
    path.write_bytes(good[:-8])
    with pytest.raises(nanopq_cpp.ModelFileError, match="bytes after it"):
        nanopq_cpp.Rii.load(path)
    with pytest.raises(FileNotFoundError):
        nanopq_cpp.Rii.load(tmp_path / "missing")
    nanopq_cpp.save(index.fine_quantizer, path)  # a model file is not an index file
    with pytest.raises(nanopq_cpp.ModelFileError, match="not a nanopq_cpp index file"):
        nanopq_cpp.Rii.load(path)


def test_add_codes_takes_the_quantizers_codes(data):
    X, Q = data
    index = make_index(X[:2000])
    codes = index.fine_quantizer.encode(X[2000:])
    index.add_codes(codes, ids=np.arange(5000, 5000 + len(codes), dtype=np.int64))
    np.testing.assert_array_equal(index.codes[2000:], codes)
    assert sum(len(p) for p in index.posting_lists) == len(X)
    with pytest.raises(nanopq_cpp.DTypeError, match="code_dtype"):
        index.add_codes(codes.astype(np.uint16))
    with pytest.raises(nanopq_cpp.InputError):
        index.add_codes(codes[:, :2])
