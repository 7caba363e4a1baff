"""Conversion to and from faiss's IndexPQ / IndexPreTransform(OPQMatrix, IndexPQ).

faiss is optional: it is imported when a conversion is called, never at
``import nanopq_cpp``.
"""

from __future__ import annotations

from typing import Any, Tuple, Union, cast

import numpy as np

from ._errors import DTypeError, InputError, NotFittedError
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


def nanopq_to_faiss(pq_nanopq: Union[PQ, OPQ]) -> Any:
    """Convert a :class:`PQ` to ``faiss.IndexPQ`` (or an :class:`OPQ` to
    ``faiss.IndexPreTransform(OPQMatrix, IndexPQ)``) with the same codewords.

    Args:
        pq_nanopq (PQ or OPQ): a fitted quantizer; Ks must be a power of two.

    Returns:
        faiss.IndexPQ or faiss.IndexPreTransform: the converted index, trained and empty
    """
    faiss = _faiss()
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
        raise DTypeError(f"pq_nanopq must be a nanopq_cpp.PQ or OPQ, got {type(pq_nanopq).__name__}")
    return _index_pq(pq_nanopq, faiss)


def _stored_codes(index_pq: Any, faiss: Any, code_dtype: type) -> np.ndarray:
    """The codes stored in an IndexPQ, unpacked to one integer per subspace."""
    M, nbits = index_pq.pq.M, index_pq.pq.nbits
    packed = faiss.vector_to_array(index_pq.codes).reshape(index_pq.ntotal, index_pq.pq.code_size)
    if nbits == 8:
        return cast(np.ndarray, packed.astype(code_dtype).reshape(-1, M))
    # faiss packs codes least-significant bit first, one bit string per vector.
    bits = np.unpackbits(packed, axis=1, bitorder="little")[:, : M * nbits].reshape(-1, M, nbits)
    weights = (1 << np.arange(nbits, dtype=np.uint64)).astype(np.uint64)
    return cast(np.ndarray, (bits.astype(np.uint64) * weights).sum(axis=2).astype(code_dtype))


def faiss_to_nanopq(pq_faiss: Any) -> Tuple[Union[PQ, OPQ], np.ndarray]:
    """Convert a trained ``faiss.IndexPQ`` to :class:`PQ`, or a
    ``faiss.IndexPreTransform`` (OPQMatrix + IndexPQ) to :class:`OPQ`.

    Args:
        pq_faiss (faiss.IndexPQ or faiss.IndexPreTransform): a trained index

    Returns:
        tuple: the quantizer with the same codewords (and rotation), and the
        codes stored in the index with shape=(N, M) (empty if none are stored)
    """
    faiss = _faiss()
    if not isinstance(pq_faiss, (faiss.IndexPQ, faiss.IndexPreTransform)):
        raise DTypeError(
            f"pq_faiss must be a faiss.IndexPQ or IndexPreTransform, got {type(pq_faiss).__name__}"
        )
    if not pq_faiss.is_trained:
        raise NotFittedError("pq_faiss must have been trained")
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
