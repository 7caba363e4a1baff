"""nanopq_cpp: product quantization (PQ) and optimized PQ (OPQ) on a C++ core.

A drop-in for nanopq 0.2.2: ``import nanopq_cpp as nanopq``.
"""

from . import _core
from ._config import get_simd_level, set_simd_level, show_config, supported_simd_levels
from ._errors import CodeError, DTypeError, InputError, ModelFileError, NotFittedError
from ._paths import get_cmake_dir, get_include
from ._pickle import load_nanopq_pickle
from ._threads import get_num_threads, set_num_threads
from .convert_faiss import faiss_to_nanopq, nanopq_to_faiss
from .distance_table import DistanceTable
from .ivfpq import IVFPQ
from .merge import merge_topk
from .model_file import load, save
from .opq import OPQ
from .packed import PackedCodes
from .pq import PQ
from .rii import Rii

__version__: str = _core.__version__

__all__ = [
    "PQ",
    "OPQ",
    "DistanceTable",
    "PackedCodes",
    "Rii",
    "IVFPQ",
    "merge_topk",
    "nanopq_to_faiss",
    "faiss_to_nanopq",
    "load_nanopq_pickle",
    "save",
    "load",
    "get_include",
    "get_cmake_dir",
    "get_num_threads",
    "set_num_threads",
    "get_simd_level",
    "set_simd_level",
    "supported_simd_levels",
    "show_config",
    "InputError",
    "DTypeError",
    "CodeError",
    "NotFittedError",
    "ModelFileError",
    "__version__",
]
