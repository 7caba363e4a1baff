"""Faults in a quantizer's state: use before fit, attributes set by hand,
tampered, truncated or newer pickles.

A broken model raises a clear error when loaded or at its first use; it is
never used silently. (Model files have their own module, test_model_file.py.)
"""

from __future__ import annotations

import pickle

import nanopq_cpp
import numpy as np
import pytest
from conftest import misaligned, random_pq
from nanopq_cpp import DTypeError, InputError, NotFittedError, _core

M, KS, DS = 4, 16, 3
D = M * DS
X = np.random.default_rng(0).random((200, D), dtype=np.float32)
CODES = np.random.default_rng(1).integers(KS, size=(20, M)).astype(np.uint8)


def fitted_opq():
    opq = nanopq_cpp.OPQ(M=M, Ks=KS, verbose=False)
    opq.pq = random_pq(M, KS, DS)
    opq.R = np.linalg.qr(np.random.default_rng(3).normal(size=(D, D)))[0].astype(np.float32)
    return opq


# What a quantizer is used for: each must check the state it reads.
USES = {
    "encode": lambda q: q.encode(X),
    "decode": lambda q: q.decode(CODES),
    "dtable": lambda q: q.dtable(X[0]),
    "search": lambda q: q.search(X[0], CODES, topk=2),
}


class TestUseBeforeFit:
    @pytest.mark.parametrize("use", USES.values(), ids=USES.keys())
    def test_pq(self, use):
        with pytest.raises(NotFittedError, match=r"codewords and Ds must be set by fit\(\) before"):
            use(nanopq_cpp.PQ(M=M, Ks=KS, verbose=False))

    @pytest.mark.parametrize("use", USES.values(), ids=USES.keys())
    def test_opq(self, use):
        with pytest.raises(NotFittedError, match=r"R must be set by fit\(\) before"):
            use(nanopq_cpp.OPQ(M=M, Ks=KS, verbose=False))

    @pytest.mark.parametrize("use", USES.values(), ids=USES.keys())
    def test_opq_with_a_rotation_but_no_codewords(self, use):
        opq = nanopq_cpp.OPQ(M=M, Ks=KS, verbose=False)
        opq.R = np.eye(D, dtype=np.float32)
        with pytest.raises(NotFittedError, match=r"codewords and Ds must be set by fit\(\)"):
            use(opq)

    def test_not_fitted_is_a_runtime_and_an_assertion_error(self):
        with pytest.raises(RuntimeError):
            nanopq_cpp.PQ(M=M, verbose=False).encode(X)
        with pytest.raises(AssertionError):
            nanopq_cpp.PQ(M=M, verbose=False).encode(X)


class TestCodewordsSetByHand:
    @pytest.mark.parametrize("use", USES.values(), ids=USES.keys())
    @pytest.mark.parametrize(
        "codewords, error, message",
        [
            (
                np.zeros((M, KS, DS + 1), np.float32),
                InputError,
                r"codewords must have shape \(M, Ks, Ds\)=\(4, 16, 3\), got \(4, 16, 4\)",
            ),
            (np.zeros((M, KS - 1, DS), np.float32), InputError, r"got \(4, 15, 3\)"),
            (np.zeros((KS, DS), np.float32), InputError, r"got \(16, 3\)"),
            (np.zeros((M, KS, DS), np.int32), DTypeError, "codewords must be a float32 np.ndarray of shape"),
            (np.zeros((M, KS, DS), object), DTypeError, "codewords must be a float32"),
            (
                np.zeros((M, KS, DS)).tolist(),
                DTypeError,
                "codewords must be a float32 np.ndarray .* got list",
            ),
        ],
    )
    def test_wrong_shapes_and_dtypes(self, use, codewords, error, message):
        pq = random_pq(M, KS, DS)
        pq.codewords = codewords
        with pytest.raises(error, match=message):
            use(pq)

    @pytest.mark.parametrize("use", USES.values(), ids=USES.keys())
    @pytest.mark.parametrize("bad_value", [np.nan, np.inf, -np.inf])
    def test_nan_or_infinity(self, use, bad_value):
        pq = random_pq(M, KS, DS)
        pq.codewords = pq.codewords.copy()
        pq.codewords[2, 5, 1] = bad_value
        with pytest.raises(InputError, match="codewords contain NaN or infinity; refit or fix them"):
            use(pq)

    @pytest.mark.parametrize("use", USES.values(), ids=USES.keys())
    def test_nan_codewords_inside_an_opq(self, use):
        opq = fitted_opq()
        opq.pq.codewords = np.full((M, KS, DS), np.nan, np.float32)
        with pytest.raises(InputError, match="codewords contain NaN or infinity"):
            use(opq)

    @pytest.mark.parametrize("attribute, value", [("M", 2), ("Ks", 32), ("Ds", 2)])
    def test_m_ks_or_ds_changed_after_fit(self, attribute, value):
        pq = random_pq(M, KS, DS)
        setattr(pq, attribute, value)
        with pytest.raises(InputError, match=r"codewords must have shape \(M, Ks, Ds\)"):
            pq.dtable(X[0, : pq.M * pq.Ds])

    @pytest.mark.parametrize("dtype", [np.float64, np.float16, ">f4"])
    def test_other_float_dtypes_are_used_by_value(self, dtype):
        pq = random_pq(M, KS, DS)
        pq.codewords = pq.codewords.astype(dtype)
        # The reference holds the same values as float32 (float16 rounds them).
        rounded = random_pq(M, KS, DS)
        rounded.codewords = pq.codewords.astype(np.float32)
        expected = (rounded.encode(X), rounded.dtable(X[0]).dtable, rounded.decode(CODES))
        np.testing.assert_array_equal(pq.encode(X), expected[0])
        np.testing.assert_array_equal(pq.dtable(X[0]).dtable, expected[1])
        np.testing.assert_array_equal(pq.decode(CODES), expected[2])

    def test_strided_or_misaligned_codewords_are_used_by_value(self):
        pq = random_pq(M, KS, DS)
        expected = (pq.encode(X), pq.dtable(X[0]).dtable, pq.decode(CODES))
        wide = np.zeros((M, KS, 2 * DS), np.float32)
        wide[:, :, ::2] = pq.codewords
        for codewords in (wide[:, :, ::2], misaligned(pq.codewords)):
            pq.codewords = codewords
            np.testing.assert_array_equal(pq.encode(X), expected[0])
            np.testing.assert_array_equal(pq.dtable(X[0]).dtable, expected[1])
            np.testing.assert_array_equal(pq.decode(CODES), expected[2])

    def test_misaligned_tables_give_the_right_answers(self):
        pq = random_pq(M, KS, DS)
        tables = pq.dtable(X[:3])
        expected = (tables.adist(CODES), tables.search(CODES, topk=4))
        tables.dtable = misaligned(tables.dtable)
        np.testing.assert_array_equal(tables.adist(CODES), expected[0])
        np.testing.assert_array_equal(tables.search(CODES, topk=4)[0], expected[1][0])

    def test_a_bad_metric_set_by_hand(self):
        pq = random_pq(M, KS, DS)
        pq.metric = "cosine"
        with pytest.raises(InputError, match="metric must be 'l2' or 'dot', got 'cosine'"):
            pq.dtable(X[0])


class TestRotationSetByHand:
    @pytest.mark.parametrize(
        "use", list(USES.values()) + [lambda q: q.rotate(X)], ids=list(USES) + ["rotate"]
    )
    @pytest.mark.parametrize(
        "rotation, error, message",
        [
            (
                np.zeros((D, D - 1), np.float32),
                InputError,
                r"R must be a square float32 matrix of shape \(D, D\), got \(12, 11\)",
            ),
            (np.zeros(D, np.float32), InputError, r"R must be a square float32 matrix .* got \(12,\)"),
            (np.eye(D, dtype=np.int64), InputError, "R must be a square float32 matrix"),
            (np.eye(D).tolist(), InputError, "R must be a square float32 matrix"),
            (
                np.eye(D + 1, dtype=np.float32),
                InputError,
                r"R must have shape \(D, D\) with D=M\*Ds=12, got \(13, 13\)",
            ),
            (np.full((D, D), np.nan, np.float32), InputError, "R contains NaN or infinity"),
        ],
    )
    def test_wrong_shapes_dtypes_and_values(self, use, rotation, error, message):
        opq = fitted_opq()
        opq.R = rotation
        with pytest.raises(error, match=message):
            use(opq)

    @pytest.mark.parametrize("dtype", [np.float64, ">f4"])
    def test_other_float_dtypes_are_used_by_value(self, dtype):
        opq = fitted_opq()
        expected = (opq.encode(X), opq.dtable(X[0]).dtable, opq.decode(CODES), opq.rotate(X))
        opq.R = opq.R.astype(dtype)
        np.testing.assert_array_equal(opq.encode(X), expected[0])
        np.testing.assert_array_equal(opq.dtable(X[0]).dtable, expected[1])
        np.testing.assert_array_equal(opq.decode(CODES), expected[2])
        np.testing.assert_array_equal(opq.rotate(X), expected[3])


class TestDistanceTableSetByHand:
    CODES_FOR_TABLE = np.zeros((3, M), np.uint8)

    @pytest.mark.parametrize(
        "table, error, message",
        [
            (
                np.zeros(KS, np.float32),
                InputError,
                r"dtable must have shape .* got an array of shape \(16,\)",
            ),
            (np.zeros((1, 1, M, KS), np.float32), InputError, r"got an array of shape \(1, 1, 4, 16\)"),
            (np.zeros((M, KS)), DTypeError, r"dtable must have dtype float32, got float64; convert with"),
            (np.zeros((M, KS), ">f4"), DTypeError, r"dtable must have dtype float32, got >f4"),
            (
                np.zeros((M, KS)).tolist(),
                DTypeError,
                "dtable must be a numpy.ndarray with dtype float32, got list",
            ),
            (
                np.zeros((M, 0), np.float32),
                InputError,
                "the distance table must have M > 0 rows and Ks > 0 columns",
            ),
            (
                np.zeros((M - 1, KS), np.float32),
                InputError,
                r"codes must have M=3 columns, got shape \(3, 4\)",
            ),
            (np.full((M, KS), np.nan, np.float32), InputError, "dtable contains NaN"),
        ],
    )
    @pytest.mark.parametrize("use", ["adist", "search"])
    def test_tables_assigned_after_construction(self, table, error, message, use):
        tables = nanopq_cpp.DistanceTable(np.zeros((M, KS), np.float32))
        tables.dtable = table
        with pytest.raises(error, match=message):
            tables.adist(self.CODES_FOR_TABLE) if use == "adist" else tables.search(self.CODES_FOR_TABLE)

    def test_a_narrow_table_refuses_codes_it_cannot_index(self):
        tables = nanopq_cpp.DistanceTable(np.zeros((M, 4), np.float32))
        with pytest.raises(IndexError, match=r"codes\[0, 0\] = 4 .* must be < Ks = 4"):
            tables.adist(np.full((1, M), 4, np.uint8))

    def test_infinite_entries_are_allowed_as_masks(self):
        table = np.zeros((M, KS), np.float32)
        table[0, 3] = np.inf
        codes = np.array([[3, 0, 0, 0], [0, 0, 0, 0]], np.uint8)
        tables = nanopq_cpp.DistanceTable(table)
        np.testing.assert_array_equal(tables.adist(codes), [np.inf, 0.0])
        ids, distances = tables.search(codes, topk=2)
        np.testing.assert_array_equal(ids, [1, 0])
        np.testing.assert_array_equal(distances, [0.0, np.inf])

    @pytest.mark.parametrize("metric", ["l2", "dot"])
    def test_the_core_ranks_nan_distances_last_by_id(self, metric):
        # The Python layer refuses NaN tables; a native caller's NaN must still
        # not break the ordering std::sort relies on (it could read out of bounds).
        rng = np.random.default_rng(5)
        table = rng.random((2, M, KS), dtype=np.float32)
        table[:, 0, ::3] = np.nan
        codes = rng.integers(KS, size=(9000, M)).astype(np.uint8)  # three scan blocks
        ids, distances = _core.search(table, codes, 40, metric, None)
        for q in range(2):
            exact = table[q][np.arange(M), codes].sum(axis=1)
            key = exact if metric == "l2" else -exact
            order = np.lexsort((np.arange(len(codes)), np.where(np.isnan(key), np.inf, key), np.isnan(key)))
            np.testing.assert_array_equal(ids[q], order[:40])
        all_nan = np.full((1, M, KS), np.nan, np.float32)
        ids, distances = _core.search(all_nan, codes, 5, metric, np.array([7, 3, 9000 - 1, 3]))
        np.testing.assert_array_equal(ids[0], [3, 3, 7, 8999, -1])
        assert np.isnan(distances[0, :4]).all()

    def test_constructor_checks(self):
        with pytest.raises(DTypeError, match="dtable must have dtype float32"):
            nanopq_cpp.DistanceTable(np.zeros((M, KS), np.int32))
        with pytest.raises(InputError, match="metric must be 'l2' or 'dot', got None"):
            nanopq_cpp.DistanceTable(np.zeros((M, KS), np.float32), metric=None)


class TestPickles:
    @pytest.fixture
    def pq_bytes(self):
        return pickle.dumps(random_pq(M, KS, DS))

    def test_every_truncation_fails_to_load(self, pq_bytes):
        for length in range(0, len(pq_bytes), max(1, len(pq_bytes) // 97)):
            with pytest.raises((pickle.UnpicklingError, EOFError, ValueError)):
                pickle.loads(pq_bytes[:length])

    @staticmethod
    def restored(cls, state):
        quantizer = cls.__new__(cls)
        quantizer.__setstate__(state)
        return quantizer

    @pytest.mark.parametrize(
        "change, message",
        [
            (
                {"nanopq_cpp_state": 2},
                r"pickled by a newer nanopq_cpp \(state version 2\); .* upgrade nanopq_cpp",
            ),
            ({"nanopq_cpp_state": "1"}, r"state version '1' is not a positive int"),
            ({"nanopq_cpp_state": 0}, r"state version 0 is not a positive int"),
            (
                {"codewords": np.zeros((M, KS - 1, DS), np.float32)},
                r"codewords must be floats of shape .* got float32 \(4, 15, 3\)",
            ),
            ({"codewords": np.zeros((M, KS, DS), np.int16)}, r"codewords must be floats .* got int16"),
            ({"codewords": [[1.0], [1.0, 2.0]]}, r"the pickled codewords is not an array"),
            ({"Ds": 5}, r"codewords must be floats of shape \(M, Ks, Ds\)=\(4, 16, 5\)"),
            ({"Ks": 300}, r"the pickled code_dtype 'uint8' does not match Ks=300"),
            ({"code_dtype": "no such dtype"}, r"the pickled code_dtype 'no such dtype' does not match Ks=16"),
            ({"M": -1}, r"M must be >= 1, got -1"),
            ({"Ks": 2**40}, r"Ks must be <= 4294967296"),
            ({"metric": "l1"}, r"metric must be 'l2' or 'dot', got 'l1'"),
        ],
    )
    def test_tampered_pq_state(self, change, message):
        state = random_pq(M, KS, DS).__getstate__()
        state.update(change)
        with pytest.raises(InputError, match=message):
            self.restored(nanopq_cpp.PQ, state)

    def test_missing_fields(self):
        state = random_pq(M, KS, DS).__getstate__()
        del state["codewords"], state["Ds"]
        with pytest.raises(InputError, match="the pickled PQ is missing codewords, Ds"):
            self.restored(nanopq_cpp.PQ, state)
        with pytest.raises(InputError, match="a pickled PQ holds a dict, got list"):
            self.restored(nanopq_cpp.PQ, [1, 2])

    @pytest.mark.parametrize(
        "change, message",
        [
            (
                {"R": np.eye(D + 1, dtype=np.float32)},
                r"the pickled R must have shape \(D, D\)=\(12, 12\), got \(13, 13\)",
            ),
            (
                {"R": np.zeros((D, 3), np.float32)},
                r"the pickled R must be a square float matrix, got float32 \(12, 3\)",
            ),
            ({"R": np.eye(D, dtype=np.int8)}, r"the pickled R must be a square float matrix, got int8"),
            ({"pq": None}, "the pickled OPQ has no PQ inside"),
            ({"nanopq_cpp_state": 99}, "pickled by a newer nanopq_cpp"),
        ],
    )
    def test_tampered_opq_state(self, change, message):
        state = fitted_opq().__getstate__()
        state.update(change)
        with pytest.raises(InputError, match=message):
            self.restored(nanopq_cpp.OPQ, state)

    @pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
    def test_out_of_band_buffers_at_odd_offsets_load_aligned(self, protocol):
        # Pickle 5 hands arrays over as buffers; dask unpickles them from
        # network frames at any offset. The restored arrays must be aligned.
        opq = fitted_opq()
        buffers = []
        data = pickle.dumps(opq, protocol=protocol, buffer_callback=buffers.append if protocol >= 5 else None)
        shifted = [misaligned(np.frombuffer(buffer.raw(), np.uint8)) for buffer in buffers]
        restored = pickle.loads(data, buffers=shifted)
        assert restored.codewords.flags.aligned and restored.R.flags.aligned
        np.testing.assert_array_equal(restored.encode(X), opq.encode(X))
        np.testing.assert_array_equal(restored.decode(CODES), opq.decode(CODES))

    def test_nan_in_a_pickle_is_refused_at_first_use(self):
        state = random_pq(M, KS, DS).__getstate__()
        state["codewords"] = np.full((M, KS, DS), np.nan, np.float32)
        pq = self.restored(nanopq_cpp.PQ, state)
        with pytest.raises(InputError, match="codewords contain NaN or infinity"):
            pq.encode(X)
        opq_state = fitted_opq().__getstate__()
        opq_state["R"] = np.full((D, D), np.inf, np.float32)
        with pytest.raises(InputError, match="R contains NaN or infinity"):
            self.restored(nanopq_cpp.OPQ, opq_state).dtable(X[0])
