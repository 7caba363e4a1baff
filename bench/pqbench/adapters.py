"""One adapter per library: the same calls for every library, so jobs need not
know which one they time.

Each adapter offers fit_pq, codewords, encode, decode, unpacked (codes as one
integer per subspace), shared_searcher (a search structure over given
codewords and codes), adist, top1, search, fit_opq and opq_reconstruct.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import nanopq_cpp
import numpy as np

from .libraries import CPP, FAISS, NANOPQ, faiss, nanopq


@dataclass
class Settings:
    """Quantizer and training settings shared by all libraries."""

    M: int
    Ks: int
    iters: int
    rotation_iters: int
    seed: int

    @property
    def nbits(self) -> int | None:
        """log2(Ks) when Ks is a power of two (faiss needs that), else None."""
        bits = self.Ks.bit_length() - 1
        return bits if self.Ks == 1 << bits else None


class NanopqStyleAdapter:
    """A library with nanopq's interface (nanopq itself, or nanopq_cpp as a
    drop-in), called exactly as a user of that interface would."""

    name = ""
    module: Any = None

    def __init__(self, settings: Settings) -> None:
        self.s = settings

    def fit_pq(self, train: np.ndarray) -> Any:
        pq = self.module.PQ(M=self.s.M, Ks=self.s.Ks, verbose=False)
        return pq.fit(train, iter=self.s.iters, seed=self.s.seed)

    def codewords(self, model: Any) -> np.ndarray:
        return np.asarray(model.codewords, dtype=np.float32)

    def encode(self, model: Any, vecs: np.ndarray) -> np.ndarray:
        return model.encode(vecs)

    def decode(self, model: Any, codes: np.ndarray) -> np.ndarray:
        return model.decode(codes)

    def unpacked(self, model: Any, codes: np.ndarray) -> np.ndarray:
        return codes

    def pq_with(self, codewords: np.ndarray) -> Any:
        """A PQ holding given codewords (no training), set up the way nanopq users do."""
        pq = self.module.PQ(M=self.s.M, Ks=self.s.Ks, verbose=False)
        pq.codewords = np.ascontiguousarray(codewords, dtype=np.float32)
        pq.Ds = codewords.shape[2]
        return pq

    def shared_searcher(self, codewords: np.ndarray, codes: np.ndarray, database: np.ndarray) -> Any:
        return self.pq_with(codewords), codes

    def adist(self, searcher: Any, query: np.ndarray) -> np.ndarray:
        pq, codes = searcher
        return pq.dtable(query).adist(codes)

    def top1(self, adist_result: np.ndarray) -> int:
        return int(np.argmin(adist_result))

    def fit_opq(self, train: np.ndarray) -> Any:
        opq = self.module.OPQ(M=self.s.M, Ks=self.s.Ks, verbose=False)
        return opq.fit(train, pq_iter=self.s.iters, rotation_iter=self.s.rotation_iters, seed=self.s.seed)

    def opq_reconstruct(self, model: Any, vecs: np.ndarray) -> np.ndarray:
        return model.decode(model.encode(vecs))


class CppAdapter(NanopqStyleAdapter):
    """nanopq_cpp, with its batched top-k search."""

    name = CPP
    module = nanopq_cpp

    def search(self, searcher: Any, queries: np.ndarray, k: int) -> np.ndarray:
        pq, codes = searcher
        ids, _ = pq.dtable(queries).search(codes, topk=k)
        return ids


class NanopqAdapter(NanopqStyleAdapter):
    """nanopq 0.2.2 (numpy/scipy), the reference implementation."""

    name = NANOPQ
    module = nanopq

    def search(self, searcher: Any, queries: np.ndarray, k: int) -> np.ndarray:
        # nanopq has no top-k search: the idiomatic way is adist per query,
        # then argpartition for the k smallest and a sort of just those k.
        pq, codes = searcher
        k_eff = min(k, len(codes))
        ids = np.empty((len(queries), k_eff), dtype=np.int64)
        for row, query in enumerate(queries):
            distances = pq.dtable(query).adist(codes)
            candidates = np.argpartition(distances, k_eff - 1)[:k_eff]
            ids[row] = candidates[np.argsort(distances[candidates], kind="stable")]
        return ids


class FaissAdapter:
    """faiss-cpu's ProductQuantizer / IndexPQ / OPQMatrix with matched settings."""

    name = FAISS

    def __init__(self, settings: Settings) -> None:
        self.s = settings

    def _new_pq(self, dim: int, n_train: int) -> Any:
        pq = faiss.ProductQuantizer(dim, self.s.M, self.s.nbits)
        pq.cp.niter = self.s.iters
        pq.cp.seed = self.s.seed
        # faiss subsamples to max_points_per_centroid * Ks training points;
        # raising the cap makes it train on all points, like the others.
        pq.cp.max_points_per_centroid = max(256, -(-n_train // self.s.Ks) + 1)
        return pq

    def fit_pq(self, train: np.ndarray) -> Any:
        pq = self._new_pq(train.shape[1], len(train))
        pq.train(train)
        return pq

    def codewords(self, model: Any) -> np.ndarray:
        flat = faiss.vector_to_array(model.centroids)
        return flat.reshape(self.s.M, self.s.Ks, -1).astype(np.float32)

    def encode(self, model: Any, vecs: np.ndarray) -> np.ndarray:
        return model.compute_codes(vecs)

    def decode(self, model: Any, codes: np.ndarray) -> np.ndarray:
        return model.decode(codes)

    def unpacked(self, model: Any, codes: np.ndarray) -> np.ndarray:
        return unpack_faiss_codes(codes, self.s.M, self.s.nbits)

    def shared_searcher(self, codewords: np.ndarray, codes: np.ndarray, database: np.ndarray) -> Any:
        dim = codewords.shape[0] * codewords.shape[2]
        index = faiss.IndexPQ(dim, self.s.M, self.s.nbits)
        faiss.copy_array_to_vector(
            np.ascontiguousarray(codewords, dtype=np.float32).ravel(), index.pq.centroids
        )
        index.is_trained = True
        index.add(database)  # faiss encodes the database itself with the shared codewords
        return index

    def added_codes(self, searcher: Any) -> np.ndarray:
        """The codes IndexPQ.add computed, one integer per subspace."""
        packed = faiss.vector_to_array(searcher.codes).reshape(searcher.ntotal, -1)
        return unpack_faiss_codes(packed, self.s.M, self.s.nbits)

    def adist(self, searcher: Any, query: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return searcher.search(query[None, :], 1)

    def top1(self, adist_result: tuple[np.ndarray, np.ndarray]) -> int:
        return int(adist_result[1][0, 0])

    def search(self, searcher: Any, queries: np.ndarray, k: int) -> np.ndarray:
        _, ids = searcher.search(queries, k)
        return ids

    def fit_opq(self, train: np.ndarray) -> Any:
        dim = train.shape[1]
        opq = faiss.OPQMatrix(dim, self.s.M)
        # nanopq's OPQ makes rotation_iter - 1 rotation updates, each after one
        # k-means iteration, then trains the final PQ for pq_iter iterations on
        # the rotated data. faiss's closest equivalent: OPQMatrix with
        # niter = rotation_iter - 1 rounds of niter_pq = 1 k-means iteration
        # (also for the first round, niter_pq_0), then a separate PQ training
        # (which is what IndexPreTransform(OPQMatrix, IndexPQ).train does).
        opq.niter = max(1, self.s.rotation_iters - 1)
        opq.niter_pq = 1
        opq.niter_pq_0 = 1
        opq.max_train_points = len(train)  # no subsampling
        # Without its own PQ, OPQMatrix always trains 256 codewords per subspace.
        rotation_pq = faiss.ProductQuantizer(dim, self.s.M, self.s.nbits)
        rotation_pq.cp.seed = self.s.seed
        opq.pq = rotation_pq
        opq.train(train)
        final_pq = self._new_pq(dim, len(train))
        final_pq.train(opq.apply(train))
        return opq, final_pq, rotation_pq  # rotation_pq kept alive: opq holds a raw pointer

    def opq_reconstruct(self, model: Any, vecs: np.ndarray) -> np.ndarray:
        opq, pq, _ = model
        return opq.reverse_transform(pq.decode(pq.compute_codes(opq.apply(vecs))))


def unpack_faiss_codes(packed: np.ndarray, M: int, nbits: int) -> np.ndarray:
    """faiss's packed codes as one integer per subspace, shape (N, M).

    faiss packs each vector's M codes of nbits bits into a byte string, least
    significant bit first.
    """
    if nbits == 8:
        return packed.reshape(-1, M)
    bits = np.unpackbits(packed, axis=1, bitorder="little")[:, : M * nbits].reshape(-1, M, nbits)
    weights = (1 << np.arange(nbits)).astype(np.int64)
    return bits.astype(np.int64) @ weights


def pack_faiss_codes(codes: np.ndarray, nbits: int) -> np.ndarray:
    """Codes of shape (N, M), one integer per subspace, in faiss's byte layout
    (the inverse of unpack_faiss_codes), for 4-bit and 8-bit codes."""
    if nbits == 8:
        return np.ascontiguousarray(codes, dtype=np.uint8)
    if nbits != 4:
        raise ValueError(f"pack_faiss_codes packs 4-bit and 8-bit codes, not {nbits}-bit ones")
    nibbles = codes.astype(np.uint8)
    if nibbles.shape[1] % 2:  # an odd M leaves the high half of the last byte zero
        nibbles = np.pad(nibbles, ((0, 0), (0, 1)))
    return np.ascontiguousarray(nibbles[:, 0::2] | (nibbles[:, 1::2] << 4))


def choose_adapters(settings: Settings, skip_faiss: bool, skip_nanopq: bool) -> tuple[list[Any], list[str]]:
    """The adapters of the libraries to run, in LIBRARY_ORDER, and why any is left out."""
    adapters: list[Any] = [CppAdapter(settings)]
    skipped: list[str] = []
    if skip_faiss:
        skipped.append("faiss (--skip-faiss)")
    elif faiss is None:
        skipped.append("faiss (not installed: pip install faiss-cpu)")
    elif settings.nbits is None:
        skipped.append(f"faiss (Ks={settings.Ks} is not a power of two)")
    else:
        adapters.append(FaissAdapter(settings))
    if skip_nanopq:
        skipped.append("nanopq (--skip-nanopq)")
    elif nanopq is None:
        skipped.append("nanopq (not installed: pip install nanopq==0.2.2)")
    else:
        adapters.append(NanopqAdapter(settings))
    return adapters, skipped
