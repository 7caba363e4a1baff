"""The libraries compared, and which optional ones are installed.

nanopq_cpp is required; faiss, nanopq and threadpoolctl are imported here
once, as None when missing, so every other module asks the same question the
same way and the benchmark still runs with what is there.
"""

from __future__ import annotations

try:
    import faiss
except ImportError:  # the benchmark still compares the other two
    faiss = None

try:
    import nanopq
except ImportError:
    nanopq = None

try:
    from threadpoolctl import threadpool_limits
except ImportError:  # then numpy's BLAS keeps its own thread count
    threadpool_limits = None

CPP, FAISS, NANOPQ = "nanopq_cpp", "faiss", "nanopq"
# The order of the table columns and of the runs within each job.
LIBRARY_ORDER = (CPP, FAISS, NANOPQ)
# The libraries nanopq_cpp's speed-up is reported against.
OTHER_LIBRARIES = (FAISS, NANOPQ)
