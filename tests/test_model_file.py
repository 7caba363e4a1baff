"""Model files: the format's exact bytes, round trips, clear errors for bad
files, and models moving between Python and the C++ example in both directions."""

from __future__ import annotations

import pickle
import struct
import zlib
from pathlib import Path

import nanopq_cpp
import native_build
import numpy as np
import pytest
from conftest import assert_top_k_equal_up_to_ties, random_pq
from nanopq_cpp import InputError, ModelFileError, NotFittedError, model_file

# The same two tiny models as tests/cpp/test_model_file.cpp: both sides must
# write exactly these bytes.
GOLDEN_PQ = bytes.fromhex(
    "894e50510d0a1a0a010000000100000001000000000000000100000000000000020000000000000001000000000000000800000000000000"
    "562687c33c14f7040000803f000000c0"
)  # PQ M=1 Ks=2 Ds=1, metric dot, codewords [1, -2]
GOLDEN_OPQ = bytes.fromhex(
    "894e50510d0a1a0a010000000200000000000000000000000100000000000000020000000000000001000000000000000c00000000000000"
    "975d475bafe070c80000003f000080be000080bf"
)  # OPQ M=1 Ks=2 Ds=1, metric l2, codewords [0.5, -0.25], R = [[-1]]


def golden_pq() -> nanopq_cpp.PQ:
    pq = nanopq_cpp.PQ(M=1, Ks=2, metric="dot", verbose=False)
    pq.Ds, pq.codewords = 1, np.array([[[1.0], [-2.0]]], dtype=np.float32)
    return pq


def golden_opq() -> nanopq_cpp.OPQ:
    opq = nanopq_cpp.OPQ(M=1, Ks=2, verbose=False)
    opq.pq.Ds, opq.pq.codewords = 1, np.array([[[0.5], [-0.25]]], dtype=np.float32)
    opq.R = np.array([[-1.0]], dtype=np.float32)
    return opq


def load_error(data: bytes) -> str:
    with pytest.raises(ModelFileError) as caught:
        model_file.from_bytes(data)
    return str(caught.value)


def edited(data: bytes, offset: int, fmt: str, value: int, reseal: bool = True) -> bytes:
    """`data` with one header field replaced, the header checksum recomputed."""
    changed = bytearray(data)
    struct.pack_into(fmt, changed, offset, value)
    if reseal:
        struct.pack_into("<I", changed, 60, zlib.crc32(bytes(changed[:60])))
    return bytes(changed)


# -- the format -----------------------------------------------------------------


def test_bytes_are_those_the_format_specifies():
    assert model_file.to_bytes(golden_pq()) == GOLDEN_PQ
    assert model_file.to_bytes(golden_opq()) == GOLDEN_OPQ
    assert model_file.from_bytes(GOLDEN_PQ) == golden_pq()
    assert model_file.from_bytes(GOLDEN_OPQ) == golden_opq()


@pytest.mark.parametrize("Ks", [16, 300, 65537], ids=["uint8", "uint16", "uint32"])
@pytest.mark.parametrize("metric", ["l2", "dot"])
def test_pq_round_trip(tmp_path, Ks, metric):
    pq = random_pq(M=2, Ks=Ks, Ds=3, metric=metric)
    path = tmp_path / "model.npq"
    pq.save(path)
    loaded = nanopq_cpp.load(path)
    assert isinstance(loaded, nanopq_cpp.PQ)
    assert loaded == pq  # M, Ks, metric, Ds, code dtype and the exact codewords
    assert loaded.codewords.dtype == np.float32 and loaded.codewords.flags.writeable


def test_fitted_models_round_trip_and_encode_the_same(tmp_path, tutorial_data):
    X, Xt, query = tutorial_data
    for quantizer in (
        nanopq_cpp.PQ(M=4, verbose=False).fit(Xt),
        nanopq_cpp.OPQ(M=4, verbose=False).fit(Xt, rotation_iter=3),
    ):
        path = str(tmp_path / "model.npq")  # str and pathlib paths both work
        nanopq_cpp.save(quantizer, path)
        loaded = nanopq_cpp.load(path)
        assert loaded == quantizer
        np.testing.assert_array_equal(loaded.encode(X), quantizer.encode(X))
        np.testing.assert_array_equal(loaded.dtable(query).dtable, quantizer.dtable(query).dtable)


def test_read_header(tmp_path):
    path = tmp_path / "model.npq"
    path.write_bytes(GOLDEN_OPQ)
    header = model_file.read_header(path)
    assert (header.format_version, header.kind, header.metric) == (1, "OPQ", "l2")
    assert (header.M, header.Ks, header.Ds, header.payload_bytes) == (1, 2, 1, 12)


def test_loaded_quantizers_are_quiet_unless_asked(tmp_path, capsys):
    path = tmp_path / "model.npq"
    path.write_bytes(GOLDEN_PQ)
    assert nanopq_cpp.load(path).verbose is False
    assert capsys.readouterr().out == ""
    assert nanopq_cpp.load(path, verbose=True).verbose is True


def test_save_refuses_what_it_cannot_write(tmp_path):
    with pytest.raises(NotFittedError):
        nanopq_cpp.PQ(M=2, verbose=False).save(tmp_path / "model.npq")
    with pytest.raises(NotFittedError):
        nanopq_cpp.OPQ(M=2, verbose=False).save(tmp_path / "model.npq")
    with pytest.raises(InputError, match="only nanopq_cpp.PQ and nanopq_cpp.OPQ"):
        nanopq_cpp.save(object(), tmp_path / "model.npq")
    pq = golden_pq()
    pq.codewords[0, 1, 0] = np.nan
    with pytest.raises(InputError, match="NaN"):
        pq.save(tmp_path / "model.npq")
    assert not (tmp_path / "model.npq").exists()


# -- bad files --------------------------------------------------------------------


def test_model_file_error_is_an_input_error():
    assert issubclass(ModelFileError, InputError)
    assert issubclass(ModelFileError, ValueError) and issubclass(ModelFileError, AssertionError)


def test_every_truncation_is_reported(tmp_path):
    for size in range(len(GOLDEN_OPQ)):
        assert "truncated" in load_error(GOLDEN_OPQ[:size])
    path = tmp_path / "model.npq"
    path.write_bytes(GOLDEN_OPQ[:-1])
    with pytest.raises(ModelFileError, match=r"model file '.*model.npq': truncated: 75 bytes, but OPQ"):
        nanopq_cpp.load(path)


def test_foreign_files_are_called_foreign(tmp_path):
    foreign = [
        b"M,Ks,Ds\n4,256,3\n",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\r",
        pickle.dumps(golden_pq()),
        bytes(100),
    ]
    for data in foreign:
        assert "not a nanopq_cpp model file" in load_error(data)
    path = tmp_path / "model.pkl"
    path.write_bytes(foreign[2])
    with pytest.raises(ModelFileError, match="not a nanopq_cpp model file"):
        nanopq_cpp.load(path)


def test_a_newer_version_asks_for_an_upgrade():
    # Not resealed: the version is read before the checksum, as a newer format
    # may lay out its header differently.
    message = load_error(edited(GOLDEN_PQ, 8, "<I", 2, reseal=False))
    assert "model format version 2 is newer than this nanopq_cpp" in message
    assert "upgrade nanopq_cpp" in message
    assert "invalid model format version 0" in load_error(edited(GOLDEN_PQ, 8, "<I", 0, reseal=False))


def test_tampered_bytes_fail_their_checksum():
    for offset in (20, 24, 40, 50, 56):
        changed = bytearray(GOLDEN_OPQ)
        changed[offset] ^= 1
        assert "corrupted header (checksum mismatch)" in load_error(bytes(changed))
    for offset in range(64, len(GOLDEN_OPQ)):
        changed = bytearray(GOLDEN_OPQ)
        changed[offset] ^= 0x40
        assert "corrupted model data (checksum mismatch)" in load_error(bytes(changed))


@pytest.mark.parametrize(
    "edits, message",
    [
        ([(12, "<I", 3)], "unknown model kind 3"),
        ([(16, "<I", 2)], "unknown metric 2"),
        ([(20, "<I", 1)], "reserved header field is 1"),
        ([(24, "<Q", 0)], "M, Ks and Ds must be positive"),
        ([(32, "<Q", 2**32 + 1)], "is more than 2**32"),
        ([(48, "<Q", 12)], "inconsistent header"),
        ([(24, "<Q", 2**40), (32, "<Q", 2**30)], "overflows"),  # 4 * M * Ks * Ds >= 2**64
        ([(12, "<I", 2), (40, "<Q", 2**33)], "overflows"),  # the OPQ's D * D
        ([(24, "<Q", 2**20), (48, "<Q", 4 * 2**21)], "truncated"),  # fits 64 bits, not the file
    ],
)
def test_impossible_headers_are_refused_before_any_allocation(edits, message):
    data = GOLDEN_PQ
    for offset, fmt, value in edits:
        data = edited(data, offset, fmt, value)
    assert message in load_error(data)


def test_trailing_bytes_and_non_finite_values_are_refused():
    assert "1 unexpected bytes after the model" in load_error(GOLDEN_PQ + b"\0")

    def with_payload_float(offset: int, bits: int) -> bytes:
        changed = bytearray(GOLDEN_OPQ)
        struct.pack_into("<I", changed, offset, bits)
        struct.pack_into("<I", changed, 56, zlib.crc32(bytes(changed[64:])))
        struct.pack_into("<I", changed, 60, zlib.crc32(bytes(changed[:60])))
        return bytes(changed)

    assert "codewords contain NaN" in load_error(with_payload_float(64, 0x7FC00000))
    assert "rotation contains NaN" in load_error(with_payload_float(len(GOLDEN_OPQ) - 4, 0x7F800000))


def test_a_missing_file_is_an_os_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        nanopq_cpp.load(tmp_path / "missing.npq")


# -- Python <-> C++ ---------------------------------------------------------------


@pytest.fixture(scope="module")
def example(tmp_path_factory) -> Path:
    """The C++ example built against the installed package (find_package)."""
    return native_build.build_example(tmp_path_factory, "find_package")


def assert_codes_equal_up_to_ties(opq: nanopq_cpp.OPQ, X: np.ndarray, cpp_codes: np.ndarray) -> None:
    """OPQ codes from both sides agree, but where a rotated sub-vector is
    equidistant from two codewords to within float rounding: Python rotates with
    numpy's BLAS, C++ with its own loop, and the two round differently."""
    py_codes = opq.encode(X).astype(np.int64)
    mismatched = np.argwhere(py_codes != cpp_codes)
    assert len(mismatched) <= max(1, py_codes.size // 1000), (
        f"{len(mismatched)} of {py_codes.size} codes differ"
    )
    rotated = X.astype(np.float64) @ opq.R.astype(np.float64)
    codewords = opq.codewords.astype(np.float64)
    Ds = opq.Ds
    for i, m in mismatched:
        sub = rotated[i, m * Ds : (m + 1) * Ds]
        py_distance = np.sum((sub - codewords[m, py_codes[i, m]]) ** 2)
        cpp_distance = np.sum((sub - codewords[m, cpp_codes[i, m]]) ** 2)
        assert abs(py_distance - cpp_distance) <= 1e-5 * (1.0 + py_distance)


@pytest.mark.parametrize("Ks", [256, 300, 65537], ids=["uint8", "uint16", "uint32"])
def test_a_pq_saved_in_python_encodes_identically_in_cpp(tmp_path, example, Ks):
    pq = random_pq(M=4, Ks=Ks, Ds=3, seed=Ks)
    rng = np.random.default_rng(Ks)
    X = rng.normal(size=(500 if Ks < 65536 else 50, 12)).astype(np.float32)
    pq.save(tmp_path / "model.npq")
    X.tofile(tmp_path / "x.f32")
    cpp_codes = native_build.parse_codes(
        native_build.run_example(example, "encode", tmp_path / "model.npq", tmp_path / "x.f32")
    )
    np.testing.assert_array_equal(cpp_codes, pq.encode(X))


@pytest.mark.parametrize("metric", ["l2", "dot"])
def test_a_pq_trained_in_python_searches_identically_in_cpp(tmp_path, example, tutorial_data, metric):
    X, Xt, _ = tutorial_data
    queries = X[:7] + np.float32(0.01)
    pq = nanopq_cpp.PQ(M=4, metric=metric, verbose=False).fit(Xt)
    pq.save(tmp_path / "model.npq")
    X.tofile(tmp_path / "x.f32")
    queries.tofile(tmp_path / "q.f32")
    output = native_build.run_example(
        example, "search", tmp_path / "model.npq", tmp_path / "x.f32", tmp_path / "q.f32", 10
    )
    cpp_ids, cpp_distances = native_build.parse_search(output)
    ids, distances = pq.search(queries, pq.encode(X), topk=10)
    if metric == "l2":  # l2 tables are the core's on both sides: equal to the bit
        np.testing.assert_array_equal(cpp_ids, ids)
        np.testing.assert_array_equal(cpp_distances, distances)
    else:  # Python's dot tables are numpy's BLAS, whose rounding varies by kernel
        assert_top_k_equal_up_to_ties(ids, distances, cpp_ids, cpp_distances, rtol=1e-5)


def test_an_opq_trained_in_python_encodes_the_same_in_cpp(tmp_path, example, correlated_data):
    X, Xt = correlated_data
    opq = nanopq_cpp.OPQ(M=8, verbose=False).fit(Xt, rotation_iter=4)
    opq.save(tmp_path / "model.npq")
    X.tofile(tmp_path / "x.f32")
    info = native_build.run_example(example, "info", tmp_path / "model.npq")
    assert info.startswith("kind=OPQ M=8 Ks=256 Ds=4 metric=l2 code_bytes=1")
    cpp_codes = native_build.parse_codes(
        native_build.run_example(example, "encode", tmp_path / "model.npq", tmp_path / "x.f32")
    )
    assert_codes_equal_up_to_ties(opq, X, cpp_codes)


def test_a_pq_trained_in_cpp_is_the_one_python_trains(tmp_path, example, tutorial_data):
    X, Xt, _ = tutorial_data
    Xt.tofile(tmp_path / "train.f32")
    X.tofile(tmp_path / "x.f32")
    native_build.run_example(
        example, "train", "pq", tmp_path / "train.f32", 12, 4, 256, tmp_path / "model.npq"
    )
    from_cpp = nanopq_cpp.load(tmp_path / "model.npq")
    # Both call the core's trainer with nanopq's defaults (20 iterations, seed 123).
    assert from_cpp == nanopq_cpp.PQ(M=4, verbose=False).fit(Xt)
    cpp_codes = native_build.parse_codes(
        native_build.run_example(example, "encode", tmp_path / "model.npq", tmp_path / "x.f32")
    )
    np.testing.assert_array_equal(cpp_codes, from_cpp.encode(X))


def test_an_opq_trained_in_cpp_loads_and_encodes_in_python(tmp_path, example, correlated_data):
    X, Xt = correlated_data
    Xt.tofile(tmp_path / "train.f32")
    X.tofile(tmp_path / "x.f32")
    native_build.run_example(
        example, "train", "opq", tmp_path / "train.f32", 32, 8, 64, tmp_path / "model.npq"
    )
    opq = nanopq_cpp.load(tmp_path / "model.npq")
    assert isinstance(opq, nanopq_cpp.OPQ) and (opq.M, opq.Ks, opq.Ds) == (8, 64, 4)
    np.testing.assert_allclose(opq.R.T @ opq.R, np.eye(32), atol=1e-4)
    cpp_codes = native_build.parse_codes(
        native_build.run_example(example, "encode", tmp_path / "model.npq", tmp_path / "x.f32")
    )
    assert_codes_equal_up_to_ties(opq, X, cpp_codes)
    # And it quantizes as well as one trained in Python (same algorithm, other rounding).
    python_opq = nanopq_cpp.OPQ(M=8, Ks=64, verbose=False).fit(Xt)

    def error(quantizer):
        return np.linalg.norm(X - quantizer.decode(quantizer.encode(X)))

    assert error(opq) <= 1.05 * error(python_opq)


def test_cpp_reports_bad_files_clearly(tmp_path, example):
    path = tmp_path / "model.npq"
    path.write_bytes(GOLDEN_OPQ[:-3])
    assert "truncated" in native_build.run_example(example, "info", path, expect_failure=True)
    path.write_bytes(edited(GOLDEN_PQ, 8, "<I", 7, reseal=False))
    assert "version 7 is newer" in native_build.run_example(example, "info", path, expect_failure=True)
    path.write_bytes(pickle.dumps(golden_pq()))
    assert "not a nanopq_cpp model file" in native_build.run_example(
        example, "info", path, expect_failure=True
    )
