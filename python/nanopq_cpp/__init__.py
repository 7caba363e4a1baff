"""nanopq_cpp: product quantization (PQ) and optimized PQ (OPQ) on a C++ core.

A drop-in for nanopq 0.2.2: ``import nanopq_cpp as nanopq``.
"""

from . import _core
from ._errors import CodeError, DTypeError, InputError, NotFittedError
from ._pickle import load_nanopq_pickle
from ._threads import get_num_threads, set_num_threads
from .convert_faiss import faiss_to_nanopq, nanopq_to_faiss
from .opq import OPQ
from .pq import PQ, DistanceTable

__version__: str = _core.__version__

__all__ = [
    "PQ",
    "OPQ",
    "DistanceTable",
    "nanopq_to_faiss",
    "faiss_to_nanopq",
    "load_nanopq_pickle",
    "get_num_threads",
    "set_num_threads",
    "InputError",
    "DTypeError",
    "CodeError",
    "NotFittedError",
    "__version__",
]
