"""nanopq_cpp.IVFPQ: exact within the probed lists (against nanopq 0.2.2's own
tables), the probed lists themselves, ids, removal, files, pickles, threads,
errors, and faiss's IndexIVFPQ both ways."""

from __future__ import annotations

import copy
import pickle

import nanopq
import nanopq_cpp
import numpy as np
import pytest
from conftest import correlated_clusters

D = 16


@pytest.fixture(scope="module")
def data():
    X = correlated_clusters(4000, D, seed=11)
    return X[:3900], X[3900:3940]


def make_index(X, Ks=256, metric="l2", by_residual=True, nlist=24, M=4):
    return (
        nanopq_cpp.IVFPQ(M, Ks, nlist=nlist, metric=metric, by_residual=by_residual, verbose=False)
        .fit(X, iter=4, seed=5)
        .add(X)
    )


def nanopq_tables(index, query, list_no):
    """nanopq 0.2.2's table for a code of list `list_no`, by the definition in IVFPQ's docstring."""
    reference = nanopq.PQ(M=index.M, Ks=index.Ks, metric=index.metric, verbose=False)
    reference.Ds, reference.codewords = D // index.M, index.pq.codewords
    centroid = index.coarse_centroids[list_no]
    if not index.by_residual:
        return reference.dtable(query)
    if index.metric == "l2":
        return reference.dtable(query - centroid)
    table = reference.dtable(query)
    table.dtable[0] += np.float32(query.astype(np.float64) @ centroid.astype(np.float64))
    return table


def probed(index, query, nprobe):
    """The nprobe lists nearest to the query, in float64; None if two nearly tie at the cut."""
    centroids = index.coarse_centroids.astype(np.float64)
    q = query.astype(np.float64)
    keys = -(centroids @ q) if index.metric == "dot" else ((centroids - q) ** 2).sum(axis=1)
    order = np.argsort(keys, kind="stable")
    if nprobe < index.nlist and keys[order[nprobe]] - keys[order[nprobe - 1]] < 1e-4 * max(
        1.0, abs(keys).max()
    ):
        return None
    return order[:nprobe]


def reference_top(index, query, lists, topk, subset=None):
    """Every code of the lists scored by nanopq's tables; best first, ties to
    the lower list, then the lower place in it."""
    ids, dists, list_nos, places = [], [], [], []
    for list_no in lists:
        codes = index.list_codes(list_no)
        if len(codes) == 0:
            continue
        ids.append(index.list_ids(list_no))
        dists.append(nanopq_tables(index, query, list_no).adist(codes))
        list_nos.append(np.full(len(codes), list_no))
        places.append(np.arange(len(codes)))
    ids, dists = np.concatenate(ids), np.concatenate(dists).astype(np.float32)
    list_nos, places = np.concatenate(list_nos), np.concatenate(places)
    keep = np.isin(ids, subset) if subset is not None else np.ones(len(ids), dtype=bool)
    keys = -dists if index.metric == "dot" else dists
    order = np.lexsort((places[keep], list_nos[keep], keys[keep]))[:topk]
    return ids[keep][order], dists[keep][order]


@pytest.mark.parametrize("Ks", [256, 16, 300])
@pytest.mark.parametrize("by_residual", [True, False])
def test_l2_is_exact_within_the_probed_lists(data, Ks, by_residual):
    X, Q = data
    index = make_index(X, Ks=Ks, by_residual=by_residual)
    assert index.list_codes(0).dtype == nanopq.PQ(M=4, Ks=Ks, verbose=False).code_dtype
    for nprobe in (1, 3, index.nlist):
        ids, dists = index.search(Q, topk=10, nprobe=nprobe)
        assert ids.shape == dists.shape == (len(Q), 10)
        assert ids.dtype == np.int64 and dists.dtype == np.float32
        checked = 0
        for q, query in enumerate(Q):
            lists = probed(index, query, nprobe)
            if lists is None:
                continue
            want_ids, want_dists = reference_top(index, query, lists, 10)
            np.testing.assert_array_equal(ids[q], want_ids)
            np.testing.assert_array_equal(dists[q], want_dists)  # nanopq's bits
            checked += 1
        assert checked >= len(Q) - 3


def test_all_lists_equal_an_exact_scan_of_every_code(data):
    X, Q = data
    index = make_index(X)
    ids, dists = index.search(Q, topk=len(X) + 5, nprobe=index.nlist)
    assert sorted(ids[0][: len(X)].tolist()) == list(range(len(X)))
    assert (ids[:, len(X) :] == -1).all() and np.isinf(dists[:, len(X) :]).all()


@pytest.mark.parametrize("by_residual", [True, False])
def test_dot_adds_the_centroid_product(data, by_residual):
    X, Q = data
    index = make_index(X, metric="dot", by_residual=by_residual)
    ids, dists = index.search(Q, topk=10, nprobe=5)
    for q, query in enumerate(Q):
        lists = probed(index, query, 5)
        if lists is None:
            continue
        want_ids, want_dists = reference_top(index, query, lists, 10)
        # numpy's BLAS and the core sum inner products in other orders: a tolerance, and ids up to near-ties
        np.testing.assert_allclose(dists[q], want_dists, rtol=1e-5, atol=1e-4)
        assert len(set(ids[q]) & set(want_ids)) >= 9
        assert (np.diff(dists[q]) <= 0).all()  # largest first


def test_residuals_encode_better_than_vectors(data):
    X, Q = data
    errors = {}
    for by_residual in (True, False):
        index = make_index(X, by_residual=by_residual)
        recon = np.empty_like(X)
        for list_no in range(index.nlist):
            ids = index.list_ids(list_no)
            decoded = index.pq.decode(index.list_codes(list_no))
            recon[ids] = decoded + (index.coarse_centroids[list_no] if by_residual else 0)
        errors[by_residual] = float(((recon - X) ** 2).sum(axis=1).mean())
    assert errors[True] < errors[False]


def test_same_result_at_any_thread_count(data):
    X, Q = data
    index = make_index(X)
    before = nanopq_cpp.get_num_threads()
    try:
        results = []
        for threads in (1, 2, 3):
            nanopq_cpp.set_num_threads(threads)
            results.append(index.search(Q, topk=7, nprobe=4))
            fitted = make_index(X[:2000])
            results.append((fitted.coarse_centroids, fitted.pq.codewords))
    finally:
        nanopq_cpp.set_num_threads(before)
    for later in results[2::2]:
        np.testing.assert_array_equal(later[0], results[0][0])
        np.testing.assert_array_equal(later[1], results[0][1])
    for later in results[3::2]:
        np.testing.assert_array_equal(later[0], results[1][0])
        np.testing.assert_array_equal(later[1], results[1][1])


def test_ids_subset_remove_and_add_codes(data):
    X, Q = data
    index = nanopq_cpp.IVFPQ(4, 256, nlist=16, verbose=False).fit(X, iter=3)
    ids = np.arange(len(X), dtype=np.int64) * 3 + 100
    index.add(X, ids=ids)
    assert index.N == len(index) == len(X) and index.list_sizes.sum() == len(X)
    top, _ = index.search(X[5], topk=1, nprobe=16)
    assert top.shape == (1,) and top[0] == ids[5]
    subset = ids[[5, 9, 12]]
    found, found_d = index.search(X[5], topk=4, nprobe=16, subset=subset)
    assert set(found[:3].tolist()) == set(subset.tolist()) and found[3] == -1 and np.isinf(found_d[3])
    index.remove(ids[[5, 9]])
    assert index.N == len(X) - 2
    found, _ = index.search(X[5], topk=20, nprobe=16)
    assert ids[5] not in found and ids[9] not in found
    with pytest.raises(nanopq_cpp.CodeError, match="not an id"):
        index.remove(ids[[5]])
    with pytest.raises(nanopq_cpp.InputError, match="more than once"):
        index.remove(ids[[12, 12]])
    with pytest.raises(nanopq_cpp.InputError, match="already in the index"):
        index.add(X[:1], ids=ids[[12]])
    with pytest.raises(nanopq_cpp.InputError, match="more than once"):
        index.add(X[:2], ids=np.array([1, 1]))
    assert index.N == len(X) - 2
    index.add(X[:1])  # default ids continue past the largest
    assert (
        index.list_ids(int(np.argmax([ids[-1] + 1 in index.list_ids(n) for n in range(16)])))[-1]
        == ids[-1] + 1
    )
    # codes encoded elsewhere: the same lists and codes give the same search
    other = nanopq_cpp.IVFPQ.from_parts(index.pq, index.coarse_centroids)
    lists = np.concatenate([np.full(index.list_sizes[n], n) for n in range(16)])
    codes = np.concatenate([index.list_codes(n) for n in range(16)])
    all_ids = np.concatenate([index.list_ids(n) for n in range(16)])
    other.add_codes(lists, codes.astype(np.int64), ids=all_ids)
    for a, b in zip(other.search(Q, 5, nprobe=3), index.search(Q, 5, nprobe=3)):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(nanopq_cpp.CodeError):
        other.add_codes(np.array([16]), codes[:1], ids=np.array([10**9]))
    with pytest.raises(nanopq_cpp.CodeError):
        other.add_codes(np.array([0]), np.full((1, 4), 256), ids=np.array([10**9]))
    index.clear()
    assert index.N == 0 and index.is_trained


def test_files_pickles_and_copies(data, tmp_path):
    X, Q = data
    for Ks in (256, 300):
        index = make_index(X, Ks=Ks)
        index.remove(np.array([3, 4]))
        expected = index.search(Q, 5, nprobe=4)
        path = tmp_path / f"index{Ks}.npqivf"
        index.save(path)
        for again in (
            nanopq_cpp.IVFPQ.load(path),
            pickle.loads(pickle.dumps(index)),
            copy.deepcopy(index),
        ):
            assert (again.M, again.Ks, again.nlist, again.metric, again.N) == (4, Ks, 24, "l2", index.N)
            for a, b in zip(again.search(Q, 5, nprobe=4), expected):
                np.testing.assert_array_equal(a, b)
            again.add(X[:1])  # next ids survive
            assert again.N == index.N + 1
    blank = pickle.loads(
        pickle.dumps(nanopq_cpp.IVFPQ(4, 16, nlist=8, metric="dot", by_residual=False, verbose=False))
    )
    assert (blank.Ks, blank.nlist, blank.metric, blank.by_residual, blank.is_trained) == (
        16,
        8,
        "dot",
        False,
        False,
    )
    data_bytes = bytearray(path.read_bytes())
    data_bytes[-1] ^= 1
    path.write_bytes(bytes(data_bytes))
    with pytest.raises(nanopq_cpp.ModelFileError, match="checksum"):
        nanopq_cpp.IVFPQ.load(path)
    path.write_bytes(b"\x89NPQIDX\n" + bytes(100))
    with pytest.raises(nanopq_cpp.ModelFileError, match="not a nanopq_cpp IVF-PQ index file"):
        nanopq_cpp.IVFPQ.load(path)
    with pytest.raises(FileNotFoundError):
        nanopq_cpp.IVFPQ.load(tmp_path / "missing")
    with pytest.raises(nanopq_cpp.NotFittedError):
        nanopq_cpp.IVFPQ(4, verbose=False).save(tmp_path / "unfitted")


def test_errors_name_the_argument(data):
    X, Q = data
    index = nanopq_cpp.IVFPQ(4, 256, nlist=16, verbose=False)
    with pytest.raises(nanopq_cpp.NotFittedError):
        index.search(Q)
    with pytest.raises(nanopq_cpp.NotFittedError):
        index.add(X)
    assert index.pq is None and index.coarse_centroids is None and index.D is None
    with pytest.raises(nanopq_cpp.InputError, match="nlist=16"):
        nanopq_cpp.IVFPQ(4, 4, nlist=16, verbose=False).fit(X[:10])
    with pytest.raises(nanopq_cpp.InputError, match="more than Ks"):
        nanopq_cpp.IVFPQ(4, 256, nlist=4, verbose=False).fit(X[:100])
    with pytest.raises(nanopq_cpp.InputError, match="dividable by M"):
        index.fit(X[:, :15].copy())
    with pytest.raises(nanopq_cpp.DTypeError, match="float32"):
        index.fit(X.astype(np.float64))
    with pytest.raises(nanopq_cpp.InputError, match="metric"):
        nanopq_cpp.IVFPQ(4, metric="cos")
    with pytest.raises(nanopq_cpp.InputError, match="nlist"):
        nanopq_cpp.IVFPQ(4, nlist=0)
    with pytest.raises(nanopq_cpp.DTypeError, match="by_residual"):
        nanopq_cpp.IVFPQ(4, by_residual="yes")
    index.fit(X, iter=2).add(X)
    with pytest.raises(nanopq_cpp.InputError, match="only an empty index"):
        index.fit(X)
    with pytest.raises(nanopq_cpp.InputError, match="queries must have D=16"):
        index.search(Q[:, :8].copy())
    with pytest.raises(nanopq_cpp.InputError, match="nprobe"):
        index.search(Q, nprobe=0)
    with pytest.raises(nanopq_cpp.InputError, match="topk"):
        index.search(Q, topk=0)
    bad = Q.copy()
    bad[1, 2] = np.nan
    with pytest.raises(nanopq_cpp.InputError, match="NaN"):
        index.search(bad)
    with pytest.raises(nanopq_cpp.InputError, match="NaN"):
        index.add(bad)
    with pytest.raises(nanopq_cpp.DTypeError, match="subset"):
        index.search(Q, subset=np.array([0.5]))
    with pytest.raises(nanopq_cpp.DTypeError, match="ids"):
        index.add(X[:2], ids=[[1, 2]])
    with pytest.raises(nanopq_cpp.InputError, match="list_no"):
        index.list_ids(16)
    assert index.N == len(X)
    # nprobe past nlist probes every list
    for a, b in zip(index.search(Q, 3, nprobe=1000), index.search(Q, 3, nprobe=16)):
        np.testing.assert_array_equal(a, b)


def test_verbose_reports_progress(data, capsys):
    X, _ = data
    nanopq_cpp.IVFPQ(4, 256, nlist=8).fit(X, iter=2).add(X)
    out = capsys.readouterr().out
    assert "coarse centroids" in out and "residuals" in out and "Added 3900 / 3900" in out


faiss = pytest.importorskip("faiss")


@pytest.mark.parametrize("metric", ["l2", "dot"])
@pytest.mark.parametrize("nbits", [8, 4])
def test_faiss_index_ivfpq_both_ways(data, metric, nbits):
    X, Q = data
    faiss_metric = faiss.METRIC_L2 if metric == "l2" else faiss.METRIC_INNER_PRODUCT
    quantizer = faiss.IndexFlatL2(D) if metric == "l2" else faiss.IndexFlatIP(D)
    theirs = faiss.IndexIVFPQ(quantizer, D, 16, 4, nbits, faiss_metric)
    theirs.train(X)
    theirs.add_with_ids(X, np.arange(len(X), dtype=np.int64) + 7)
    theirs.nprobe = 16
    ours = nanopq_cpp.faiss_to_nanopq(theirs)
    assert isinstance(ours, nanopq_cpp.IVFPQ)
    assert (ours.M, ours.Ks, ours.nlist, ours.metric, ours.N) == (4, 1 << nbits, 16, metric, len(X))
    np.testing.assert_array_equal(ours.list_sizes, [theirs.invlists.list_size(n) for n in range(16)])
    their_d, their_i = theirs.search(Q, 10)
    our_i, our_d = ours.search(Q, 10, nprobe=16)
    # faiss's residual tables round otherwise: the same neighbours up to near-ties
    assert np.mean([len(set(a) & set(b)) / 10 for a, b in zip(our_i, their_i)]) > 0.97
    np.testing.assert_allclose(our_d, their_d, rtol=1e-4, atol=1e-3)
    back = nanopq_cpp.nanopq_to_faiss(ours)
    assert isinstance(back, faiss.IndexIVFPQ) and back.ntotal == len(X)
    back.nprobe = 16
    back_d, back_i = back.search(Q, 10)
    np.testing.assert_array_equal(back_i, their_i)
    np.testing.assert_array_equal(back_d, their_d)


def test_fit_reconstructs_no_worse_than_faiss(data):
    X, _ = data
    ours = nanopq_cpp.IVFPQ(4, 256, nlist=16, verbose=False).fit(X).add(X)  # defaults, as faiss's
    recon = np.empty_like(X)
    for list_no in range(ours.nlist):
        recon[ours.list_ids(list_no)] = (
            ours.pq.decode(ours.list_codes(list_no)) + ours.coarse_centroids[list_no]
        )
    our_error = float(((recon - X) ** 2).sum(axis=1).mean())
    theirs = faiss.IndexIVFPQ(faiss.IndexFlatL2(D), D, 16, 4, 8)
    theirs.train(X)
    theirs.add(X)
    theirs.make_direct_map()
    their_error = float(((theirs.reconstruct_n(0, len(X)) - X) ** 2).sum(axis=1).mean())
    assert our_error <= their_error * 1.02


def test_every_simd_level_gives_the_same_index_and_results(data):
    """Training, adding and both search paths (one query, and a batch read list by list)
    agree at every SIMD level this CPU has: the kernels' bits are level-free."""
    X, Q = data
    results = {}
    try:
        for level in nanopq_cpp.supported_simd_levels():
            nanopq_cpp.set_simd_level(level)
            index = make_index(X[:2000], nlist=12)
            batch = index.search(Q, topk=5, nprobe=3)
            one = index.search(Q[0], topk=5, nprobe=3)
            results[level] = (index.coarse_centroids, index.pq.codewords, *batch, *one)
    finally:
        nanopq_cpp.set_simd_level(None)
    first = next(iter(results.values()))
    for level, found in results.items():
        for a, b in zip(found, first):
            np.testing.assert_array_equal(a, b, err_msg=level)
