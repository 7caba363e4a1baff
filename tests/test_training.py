"""Training: quality against nanopq and faiss, inits, determinism, OPQ."""

from __future__ import annotations

import nanopq_cpp
import numpy as np
import pytest
from conftest import correlated_clusters
from nanopq_cpp import InputError

nanopq = pytest.importorskip("nanopq")


def mean_squared_error(quantizer, X: np.ndarray) -> float:
    return float(np.mean(np.sum((X - quantizer.decode(quantizer.encode(X))) ** 2, axis=1)))


@pytest.mark.parametrize(
    "n, dim, M, Ks, seed",
    [(3000, 32, 4, 256, 0), (5000, 64, 8, 256, 1), (2000, 16, 8, 64, 2), (6000, 32, 4, 1024, 3)],
)
def test_pq_error_no_worse_than_nanopq(n, dim, M, Ks, seed):
    Xt = correlated_clusters(n, dim, seed=seed)
    ours = nanopq_cpp.PQ(M=M, Ks=Ks, verbose=False).fit(Xt, iter=20, seed=seed)
    theirs = nanopq.PQ(M=M, Ks=Ks, verbose=False).fit(Xt, iter=20, seed=seed)
    # Different random starts: allow 1% of run-to-run noise, no more.
    assert mean_squared_error(ours, Xt) <= 1.01 * mean_squared_error(theirs, Xt)


def test_pq_error_no_worse_than_faiss():
    faiss = pytest.importorskip("faiss")
    Xt = correlated_clusters(8000, 64, seed=4)
    ours = nanopq_cpp.PQ(M=8, Ks=256, verbose=False).fit(Xt, iter=25, seed=4)
    reference = faiss.ProductQuantizer(64, 8, 8)
    reference.cp.niter = 25
    reference.cp.max_points_per_centroid = 10**6  # train on every point, as we do
    reference.train(Xt)
    faiss_error = float(np.mean(np.sum((Xt - reference.decode(reference.compute_codes(Xt))) ** 2, axis=1)))
    assert mean_squared_error(ours, Xt) <= 1.01 * faiss_error


@pytest.mark.parametrize("minit", ["points", "random", "++"])
def test_every_init_trains_a_useful_quantizer(minit, correlated_data):
    _, Xt = correlated_data
    pq = nanopq_cpp.PQ(M=4, Ks=32, verbose=False).fit(Xt, iter=10, seed=5, minit=minit)
    assert pq.codewords.shape == (4, 32, 8) and pq.codewords.dtype == np.float32
    assert np.isfinite(pq.codewords).all()
    # Far better than one codeword per subspace (the mean): k-means worked.
    single = nanopq_cpp.PQ(M=4, Ks=1, verbose=False).fit(Xt, iter=1, seed=5)
    assert mean_squared_error(pq, Xt) < 0.6 * mean_squared_error(single, Xt)
    assert len(np.unique(pq.encode(Xt)[:, 0])) > 16  # most clusters are in use


def test_initial_codewords_as_minit(correlated_data):
    _, Xt = correlated_data
    start = nanopq_cpp.PQ(M=4, Ks=16, verbose=False).fit(Xt, iter=3, seed=0)
    continued = nanopq_cpp.PQ(M=4, Ks=16, verbose=False).fit(Xt, iter=1, minit=start.codewords.copy())
    # One more Lloyd iteration from the given start never increases the error.
    assert mean_squared_error(continued, Xt) <= mean_squared_error(start, Xt) + 1e-6
    assert not np.array_equal(continued.codewords, start.codewords)


def test_matrix_string_gives_clear_error(correlated_data):
    _, Xt = correlated_data
    with pytest.raises(AssertionError, match="minit='matrix'.*np.ndarray"):
        nanopq_cpp.PQ(M=4, Ks=16, verbose=False).fit(Xt, minit="matrix")


@pytest.mark.parametrize("minit", ["points", "random", "++"])
def test_same_seed_same_codewords_at_any_thread_count(minit, correlated_data, restore_threads):
    _, Xt = correlated_data
    results = []
    for threads in (1, 2, 3):
        nanopq_cpp.set_num_threads(threads)
        assert nanopq_cpp.get_num_threads() == threads
        results.append(
            nanopq_cpp.PQ(M=2, Ks=64, verbose=False).fit(Xt, iter=5, seed=9, minit=minit).codewords
        )
    for other in results[1:]:
        np.testing.assert_array_equal(results[0], other)
    different = nanopq_cpp.PQ(M=2, Ks=64, verbose=False).fit(Xt, iter=5, seed=10, minit=minit).codewords
    assert not np.array_equal(results[0], different)


def test_fit_leaves_numpy_global_random_state_alone(correlated_data):
    _, Xt = correlated_data
    np.random.seed(42)
    expected = np.random.random(3)
    np.random.seed(42)
    nanopq_cpp.PQ(M=4, Ks=16, verbose=False).fit(Xt, seed=1)
    nanopq_cpp.OPQ(M=4, Ks=16, verbose=False).fit(Xt, seed=1, rotation_iter=2, pq_iter=2)
    np.testing.assert_array_equal(np.random.random(3), expected)


def test_empty_clusters_are_repaired():
    # 40 distinct points repeated: 'points' init often picks duplicates'
    # neighbours, and scipy would leave clusters empty and stale.
    rng = np.random.default_rng(0)
    distinct = rng.normal(size=(40, 2)).astype(np.float32)
    Xt = np.repeat(distinct, 10, axis=0)
    pq = nanopq_cpp.PQ(M=1, Ks=40, verbose=False).fit(Xt, iter=30, seed=3, minit="random")
    used = np.unique(pq.encode(Xt))
    assert len(used) == 40  # every distinct point got its own codeword
    assert mean_squared_error(pq, Xt) < 1e-6


def test_opq_beats_pq_on_correlated_data(correlated_data):
    X, Xt = correlated_data
    pq = nanopq_cpp.PQ(M=4, Ks=64, verbose=False).fit(Xt, iter=20, seed=0)
    opq = nanopq_cpp.OPQ(M=4, Ks=64, verbose=False).fit(Xt, pq_iter=20, rotation_iter=10, seed=0)
    assert mean_squared_error(opq, X) < 0.95 * mean_squared_error(pq, X)
    R = opq.R
    assert R.shape == (32, 32) and R.dtype == np.float32
    np.testing.assert_allclose(R.T @ R, np.eye(32), atol=1e-4)


def test_opq_error_no_worse_than_nanopq(correlated_data):
    X, Xt = correlated_data
    ours = nanopq_cpp.OPQ(M=4, Ks=64, verbose=False).fit(Xt, pq_iter=20, rotation_iter=10, seed=0)
    theirs = nanopq.OPQ(M=4, Ks=64, verbose=False).fit(Xt, pq_iter=20, rotation_iter=10, seed=0)
    assert mean_squared_error(ours, Xt) <= 1.01 * mean_squared_error(theirs, Xt)


def test_opq_parametric_init_is_a_rotation_balancing_variance(correlated_data):
    _, Xt = correlated_data
    opq = nanopq_cpp.OPQ(M=4, Ks=16, verbose=False)
    R = opq.eigenvalue_allocation(Xt)
    assert R.shape == (32, 32) and R.dtype == np.float32
    np.testing.assert_allclose(R.T @ R, np.eye(32), atol=1e-4)
    # Same columns as nanopq's allocation (eigenvector signs may differ).
    reference = nanopq.OPQ(M=4, Ks=16, verbose=False).eigenvalue_allocation(Xt)
    np.testing.assert_allclose(np.abs(R.T @ reference), np.eye(32), atol=1e-3)
    fitted = opq.fit(Xt, parametric_init=True, rotation_iter=2, pq_iter=5, seed=0)
    assert fitted is opq and opq.codewords.shape == (4, 16, 8)


def test_opq_keeps_dot_metric(correlated_data):
    X, Xt = correlated_data
    opq = nanopq_cpp.OPQ(M=4, Ks=16, metric="dot", verbose=False).fit(Xt, rotation_iter=2, pq_iter=2)
    assert opq.metric == "dot" and opq.pq.metric == "dot"
    table = opq.dtable(X[0])
    assert table.metric == "dot"
    # Inner products against the reconstruction, summed over subspaces.
    codes = opq.encode(X[:20])
    expected = opq.pq.decode(codes) @ opq.rotate(X[0])
    np.testing.assert_allclose(table.adist(codes), expected, rtol=1e-4, atol=1e-3)


def test_opq_fit_is_the_cores_training_loop(correlated_data):
    """OPQ.fit hands its arguments to the core's train_opq (which native users
    call) and keeps exactly what it returns."""
    X, Xt = correlated_data
    opq = nanopq_cpp.OPQ(M=4, Ks=32, verbose=False).fit(Xt, pq_iter=10, rotation_iter=5, seed=7, minit="++")
    rotation, codewords = nanopq_cpp._core.train_opq(Xt, 4, 32, 10, 5, False, 7, "++")
    assert np.array_equal(opq.R, rotation) and np.array_equal(opq.codewords, codewords)
    np.testing.assert_allclose(opq.R.T @ opq.R, np.eye(32), atol=1e-4)
    assert (opq.pq.Ds, opq.pq.Ks, opq.pq.M) == (8, 32, 4)


def test_opq_fit_starts_from_given_codewords(correlated_data):
    X, Xt = correlated_data
    start = nanopq_cpp.PQ(M=4, Ks=32, verbose=False).fit(Xt, iter=3, seed=1).codewords
    given = nanopq_cpp.OPQ(M=4, Ks=32, verbose=False).fit(Xt, pq_iter=2, rotation_iter=2, minit=start)
    rotation, codewords = nanopq_cpp._core.train_opq(Xt, 4, 32, 2, 2, False, 123, "given", start)
    assert np.array_equal(given.R, rotation) and np.array_equal(given.codewords, codewords)
    other = nanopq_cpp.OPQ(M=4, Ks=32, verbose=False).fit(Xt, pq_iter=2, rotation_iter=2, minit=start + 1.0)
    assert not np.array_equal(other.codewords, given.codewords)
    with pytest.raises(InputError, match=r"minit as initial codewords must have shape"):
        nanopq_cpp.OPQ(M=4, Ks=32, verbose=False).fit(Xt, minit=start[:, :16])


def test_opq_training_does_not_depend_on_the_thread_count(correlated_data, restore_threads):
    _, Xt = correlated_data
    results = []
    for threads in (1, 2, 3):
        nanopq_cpp.set_num_threads(threads)
        opq = nanopq_cpp.OPQ(M=4, Ks=16, verbose=False).fit(
            Xt, pq_iter=3, rotation_iter=3, parametric_init=True
        )
        results.append((opq.R, opq.codewords))
    for rotation, codewords in results[1:]:
        assert np.array_equal(rotation, results[0][0]) and np.array_equal(codewords, results[0][1])
