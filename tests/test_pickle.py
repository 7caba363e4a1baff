"""Pickling: our versioned state, and pickles written by nanopq 0.2.2."""

from __future__ import annotations

import pickle
import subprocess
import sys

import nanopq_cpp
import numpy as np
import pytest
from nanopq_cpp import InputError

X = np.random.default_rng(0).random((500, 8), dtype=np.float32)


@pytest.fixture(scope="module")
def pq():
    return nanopq_cpp.PQ(M=2, Ks=16, metric="dot", verbose=False).fit(X, iter=3)


@pytest.fixture(scope="module")
def opq():
    return nanopq_cpp.OPQ(M=2, Ks=16, verbose=False).fit(X, rotation_iter=2, pq_iter=2)


def test_round_trip(pq, opq, tmp_path):
    for quantizer in (pq, opq, nanopq_cpp.PQ(M=3, verbose=False)):
        path = tmp_path / "q.pkl"
        with open(path, "wb") as f:
            pickle.dump(quantizer, f)
        with open(path, "rb") as f:
            loaded = pickle.load(f)
        assert loaded == quantizer and type(loaded) is type(quantizer)
    loaded = pickle.loads(pickle.dumps(pq))
    np.testing.assert_array_equal(loaded.encode(X), pq.encode(X))
    assert loaded.code_dtype is np.uint8 and loaded.metric == "dot"


def test_state_is_plain_and_versioned(pq, opq):
    state = pq.__getstate__()
    assert state["nanopq_cpp_state"] == 1 and state["code_dtype"] == "uint8"
    assert set(state) == {"nanopq_cpp_state", "M", "Ks", "metric", "verbose", "code_dtype", "codewords", "Ds"}
    assert isinstance(state["codewords"], np.ndarray)
    assert set(opq.__getstate__()) == {"nanopq_cpp_state", "pq", "R"}


def test_newer_or_tampered_state_is_refused(pq, opq):
    state = pq.__getstate__()
    with pytest.raises(InputError, match="newer nanopq_cpp"):
        nanopq_cpp.PQ.__new__(nanopq_cpp.PQ).__setstate__({**state, "nanopq_cpp_state": 99})
    with pytest.raises(InputError, match=r"codewords must be floats of shape \(M, Ks, Ds\)"):
        nanopq_cpp.PQ.__new__(nanopq_cpp.PQ).__setstate__({**state, "codewords": state["codewords"][:, :3]})
    with pytest.raises(InputError, match="missing"):
        nanopq_cpp.PQ.__new__(nanopq_cpp.PQ).__setstate__({"M": 2})
    with pytest.raises(InputError, match="code_dtype"):
        nanopq_cpp.PQ.__new__(nanopq_cpp.PQ).__setstate__({**state, "code_dtype": "uint16"})
    with pytest.raises(InputError, match="R must have shape"):
        nanopq_cpp.OPQ.__new__(nanopq_cpp.OPQ).__setstate__(
            {**opq.__getstate__(), "R": np.eye(3, dtype=np.float32)}
        )


def test_truncated_pickle_fails_cleanly(pq):
    data = pickle.dumps(pq)
    with pytest.raises((pickle.UnpicklingError, EOFError, ValueError)):
        pickle.loads(data[: len(data) // 2])


def _nanopq_pickles():
    nanopq = pytest.importorskip("nanopq")
    reference_pq = nanopq.PQ(M=2, Ks=16, metric="dot", verbose=False).fit(X, iter=3)
    reference_opq = nanopq.OPQ(M=2, Ks=16, verbose=False).fit(X, rotation_iter=2, pq_iter=2)
    return reference_pq, reference_opq


def test_load_nanopq_pickle(tmp_path):
    reference_pq, reference_opq = _nanopq_pickles()
    loaded = nanopq_cpp.load_nanopq_pickle(pickle.dumps(reference_pq))
    assert type(loaded) is nanopq_cpp.PQ and loaded.metric == "dot"
    np.testing.assert_array_equal(loaded.encode(X), reference_pq.encode(X))
    path = tmp_path / "opq.pkl"
    path.write_bytes(pickle.dumps(reference_opq))
    with open(path, "rb") as stream:
        from_stream = nanopq_cpp.load_nanopq_pickle(stream)
    for loaded_opq in (
        from_stream,
        nanopq_cpp.load_nanopq_pickle(path),
        nanopq_cpp.load_nanopq_pickle(str(path)),
    ):
        assert type(loaded_opq) is nanopq_cpp.OPQ and type(loaded_opq.pq) is nanopq_cpp.PQ
        np.testing.assert_array_equal(loaded_opq.encode(X), reference_opq.encode(X))
        np.testing.assert_allclose(
            loaded_opq.decode(loaded_opq.encode(X)), reference_opq.decode(reference_opq.encode(X))
        )


def test_load_nanopq_pickle_without_nanopq_installed(tmp_path):
    reference_pq, reference_opq = _nanopq_pickles()
    path = tmp_path / "both.pkl"
    path.write_bytes(pickle.dumps({"pq": reference_pq, "opq": reference_opq}))
    script = (
        "import sys; sys.modules['nanopq'] = None\n"  # makes `import nanopq` fail
        "import numpy as np, nanopq_cpp\n"
        f"both = nanopq_cpp.load_nanopq_pickle({str(path)!r})\n"
        "assert type(both['pq']) is nanopq_cpp.PQ and type(both['opq']) is nanopq_cpp.OPQ\n"
        "print(both['pq'].M, both['opq'].R.shape)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["2", "(8,", "8)"]
