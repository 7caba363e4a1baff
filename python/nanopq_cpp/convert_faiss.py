"""Conversion to and from faiss's IndexPQ / IndexPreTransform(OPQMatrix, IndexPQ) / IndexIVFPQ.

faiss is optional: it is imported when a conversion is called, never at
``import nanopq_cpp``.
"""

from __future__ import annotations

from typing import Any, Union, cast

import numpy as np

from ._errors import DTypeError, InputError, NotFittedError
from .ivfpq import IVFPQ
from .opq import OPQ
from .pq import PQ


def _faiss() -> Any:
    try:
        import faiss
    except ImportError:
        raise ImportError("this conversion needs faiss: pip install faiss-cpu") from None
    return faiss


def _nbits(Ks: int) -> int:
    nbits = int(Ks).bit_length() - 1
    if Ks < 2 or 1 << nbits != Ks:
        raise InputError(f"faiss stores Ks = 2**nbits codewords; Ks={Ks} is not a power of two >= 2")
    return nbits


def _index_pq(pq: PQ, faiss: Any) -> Any:
    codewords = pq._fitted_codewords("nanopq_to_faiss")
    D = codewords.shape[2] * pq.M
    metric = {"l2": faiss.METRIC_L2, "dot": faiss.METRIC_INNER_PRODUCT}[pq.metric]
    index = faiss.IndexPQ(D, pq.M, _nbits(pq.Ks), metric)
    faiss.copy_array_to_vector(codewords.reshape(-1), index.pq.centroids)
    index.is_trained = True
    return index


def nanopq_to_faiss(pq_nanopq: Union[PQ, OPQ, IVFPQ]) -> Any:
    """Convert a :class:`PQ` to ``faiss.IndexPQ`` (or an :class:`OPQ` to
    ``faiss.IndexPreTransform(OPQMatrix, IndexPQ)``) with the same codewords,
    or an :class:`IVFPQ` to ``faiss.IndexIVFPQ`` with the same centroids,
    codewords, lists, codes and ids.

    Args:
        pq_nanopq (PQ, OPQ or IVFPQ): fitted; Ks must be a power of two.

    Returns:
        faiss.IndexPQ, faiss.IndexPreTransform or faiss.IndexIVFPQ: the
        converted index, trained (empty for a quantizer, filled for an IVFPQ)
    """
    faiss = _faiss()
    if isinstance(pq_nanopq, IVFPQ):
        return _index_ivfpq(pq_nanopq, faiss)
    if isinstance(pq_nanopq, OPQ):
        if pq_nanopq.R is None:
            raise NotFittedError("the OPQ's R must be set by fit() before nanopq_to_faiss()")
        index_pq = _index_pq(pq_nanopq.pq, faiss)
        D = index_pq.d
        rotation = pq_nanopq._rotation("nanopq_to_faiss")
        opq_matrix = faiss.OPQMatrix(D, pq_nanopq.M)
        # faiss applies y = A x; we apply y = x R, so A = R^T.
        faiss.copy_array_to_vector(np.ascontiguousarray(rotation.T).reshape(-1), opq_matrix.A)
        faiss.copy_array_to_vector(np.zeros(D, dtype=np.float32), opq_matrix.b)
        opq_matrix.is_trained = True
        index = faiss.IndexPreTransform(opq_matrix, index_pq)
        index.is_trained = True
        return index
    if not isinstance(pq_nanopq, PQ):
        raise DTypeError(f"pq_nanopq must be a nanopq_cpp.PQ, OPQ or IVFPQ, got {type(pq_nanopq).__name__}")
    return _index_pq(pq_nanopq, faiss)


def _unpack_codes(packed: np.ndarray, M: int, nbits: int, code_dtype: type) -> np.ndarray:
    """faiss's codes (one row of code_size bytes a vector) unpacked to one integer a subspace."""
    if nbits == 8:
        return cast(np.ndarray, packed.astype(code_dtype).reshape(-1, M))
    # faiss packs codes least-significant bit first, one bit string per vector.
    bits = np.unpackbits(packed, axis=1, bitorder="little")[:, : M * nbits].reshape(-1, M, nbits)
    weights = (1 << np.arange(nbits, dtype=np.uint64)).astype(np.uint64)
    return cast(np.ndarray, (bits.astype(np.uint64) * weights).sum(axis=2).astype(code_dtype))


def _pack_codes(codes: np.ndarray, nbits: int, code_size: int) -> np.ndarray:
    """The inverse of _unpack_codes: codes (N, M) as faiss's rows of code_size bytes."""
    if nbits == 8:
        return np.ascontiguousarray(codes, dtype=np.uint8)
    shifts = np.arange(nbits, dtype=np.uint64)
    bits = ((codes.astype(np.uint64)[:, :, None] >> shifts) & 1).astype(np.uint8).reshape(len(codes), -1)
    padded = np.zeros((len(codes), code_size * 8), dtype=np.uint8)
    padded[:, : bits.shape[1]] = bits
    return np.ascontiguousarray(np.packbits(padded, axis=1, bitorder="little"))


def _stored_codes(index_pq: Any, faiss: Any, code_dtype: type) -> np.ndarray:
    """The codes stored in an IndexPQ, unpacked to one integer per subspace."""
    packed = faiss.vector_to_array(index_pq.codes).reshape(index_pq.ntotal, index_pq.pq.code_size)
    return _unpack_codes(packed, index_pq.pq.M, index_pq.pq.nbits, code_dtype)


def _index_ivfpq(ivf: IVFPQ, faiss: Any) -> Any:
    """faiss.IndexIVFPQ with the same centroids, codewords, lists, codes and ids."""
    if not ivf.is_trained:
        raise NotFittedError("the IVFPQ must be fitted before nanopq_to_faiss()")
    nbits = _nbits(ivf.Ks)
    D = int(ivf.D)  # type: ignore[arg-type]
    metric = {"l2": faiss.METRIC_L2, "dot": faiss.METRIC_INNER_PRODUCT}[ivf.metric]
    quantizer = faiss.IndexFlatL2(D) if ivf.metric == "l2" else faiss.IndexFlatIP(D)
    quantizer.add(ivf.coarse_centroids)
    index = faiss.IndexIVFPQ(quantizer, D, ivf.nlist, ivf.M, nbits, metric)
    quantizer.this.disown()  # the index owns its quantizer from here
    index.own_fields = True
    index.by_residual = ivf.by_residual
    faiss.copy_array_to_vector(ivf.pq.codewords.reshape(-1), index.pq.centroids)  # type: ignore[union-attr]
    index.is_trained = True
    index.precompute_table()
    for list_no in range(ivf.nlist):
        ids = np.ascontiguousarray(ivf.list_ids(list_no), dtype=np.int64)
        if len(ids) == 0:
            continue
        codes = _pack_codes(ivf.list_codes(list_no), nbits, index.code_size)
        index.invlists.add_entries(list_no, len(ids), faiss.swig_ptr(ids), faiss.swig_ptr(codes))
    index.ntotal = ivf.N
    return index


def _ivfpq_of(index: Any, faiss: Any) -> IVFPQ:
    """An IVFPQ from a trained faiss.IndexIVFPQ, with its lists, codes and ids."""
    M, nbits, D, nlist = index.pq.M, index.pq.nbits, index.d, index.nlist
    Ks = 1 << nbits
    metric = "dot" if index.metric_type == faiss.METRIC_INNER_PRODUCT else "l2"
    pq = PQ(M=M, Ks=Ks, metric=metric, verbose=False)
    pq.Ds = D // M
    pq.codewords = np.ascontiguousarray(faiss.vector_to_array(index.pq.centroids).reshape(M, Ks, D // M))
    centroids = np.ascontiguousarray(index.quantizer.reconstruct_n(0, nlist), dtype=np.float32)
    ivf = IVFPQ.from_parts(pq, centroids, by_residual=bool(index.by_residual))
    invlists = index.invlists
    lists, codes, ids = [], [], []
    for list_no in range(nlist):
        size = invlists.list_size(list_no)
        if size == 0:
            continue
        ids.append(faiss.rev_swig_ptr(invlists.get_ids(list_no), size).copy())
        packed = faiss.rev_swig_ptr(invlists.get_codes(list_no), size * invlists.code_size).copy()
        codes.append(_unpack_codes(packed.reshape(size, invlists.code_size), M, nbits, pq.code_dtype))
        lists.append(np.full(size, list_no, dtype=np.int64))
    if ids:
        ivf.add_codes(np.concatenate(lists), np.concatenate(codes), np.concatenate(ids).astype(np.int64))
    return ivf


def faiss_to_nanopq(pq_faiss: Any) -> Any:
    """Convert a trained ``faiss.IndexPQ`` to :class:`PQ`, a
    ``faiss.IndexPreTransform`` (OPQMatrix + IndexPQ) to :class:`OPQ`, or a
    ``faiss.IndexIVFPQ`` to :class:`IVFPQ`.

    Args:
        pq_faiss (faiss.IndexPQ, faiss.IndexPreTransform or faiss.IndexIVFPQ): a trained index

    Returns:
        tuple or IVFPQ: for a PQ index, the quantizer with the same codewords
        (and rotation) and the codes stored in the index with shape=(N, M)
        (empty if none are stored); for an IndexIVFPQ, an :class:`IVFPQ`
        holding its centroids, codewords, lists, codes and ids
    """
    faiss = _faiss()
    if not isinstance(pq_faiss, (faiss.IndexPQ, faiss.IndexPreTransform, faiss.IndexIVFPQ)):
        raise DTypeError(
            "pq_faiss must be a faiss.IndexPQ, IndexPreTransform or IndexIVFPQ, "
            f"got {type(pq_faiss).__name__}"
        )
    if not pq_faiss.is_trained:
        raise NotFittedError("pq_faiss must have been trained")
    if isinstance(pq_faiss, faiss.IndexIVFPQ):
        return _ivfpq_of(pq_faiss, faiss)
    rotation = None
    if isinstance(pq_faiss, faiss.IndexPreTransform):
        if pq_faiss.chain.size() != 1:
            raise InputError(
                f"pq_faiss must hold exactly one transform (an OPQMatrix), got {pq_faiss.chain.size()}"
            )
        transform = faiss.downcast_VectorTransform(pq_faiss.chain.at(0))
        if not isinstance(transform, faiss.LinearTransform) or transform.d_in != transform.d_out:
            raise InputError("pq_faiss's transform must be a square linear transform such as OPQMatrix")
        rotation = faiss.vector_to_array(transform.A).reshape(transform.d_out, transform.d_in).T
        index_pq = faiss.downcast_index(pq_faiss.index)
        if not isinstance(index_pq, faiss.IndexPQ):
            raise DTypeError(f"pq_faiss must wrap an IndexPQ, got {type(index_pq).__name__}")
    else:
        index_pq = pq_faiss
    M, Ks, D = index_pq.pq.M, 1 << index_pq.pq.nbits, index_pq.pq.d
    metric = "dot" if index_pq.metric_type == faiss.METRIC_INNER_PRODUCT else "l2"
    pq = PQ(M=M, Ks=Ks, metric=metric, verbose=False)
    pq.Ds = D // M
    pq.codewords = np.ascontiguousarray(
        faiss.vector_to_array(index_pq.pq.centroids).reshape(M, Ks, D // M), dtype=np.float32
    )
    codes = _stored_codes(index_pq, faiss, pq.code_dtype)
    if rotation is None:
        return pq, codes
    opq = OPQ(M=M, Ks=Ks, metric=metric, verbose=False)
    opq.pq = pq
    opq.R = np.ascontiguousarray(rotation, dtype=np.float32)
    return opq, codes
