"""What PQ and OPQ offer alike on top of dtable: search and save."""

from __future__ import annotations

import os
from typing import Optional, Tuple, Union

import numpy as np

from ._model_bytes import write_model
from .distance_table import DistanceTable
from .packed import PackedCodes


class QuantizerShorthands:
    """search and save, for a class with ``dtable(query)`` and ``_model_arrays()``."""

    def dtable(self, query: np.ndarray) -> DistanceTable:
        raise NotImplementedError  # defined by PQ and OPQ

    def _model_arrays(self) -> Tuple[str, np.ndarray, Optional[np.ndarray]]:
        raise NotImplementedError  # (metric, codewords, rotation or None), checked

    def search(
        self,
        query: np.ndarray,
        codes: Union[np.ndarray, PackedCodes],
        topk: int = 1,
        subset: Optional[np.ndarray] = None,
    ) -> Tuple[np.ndarray, np.ndarray]:
        """Top-k search over PQ-codes (or packed codes): shorthand for
        ``self.dtable(query).search(codes, topk, subset)``."""
        return self.dtable(query).search(codes, topk=topk, subset=subset)

    def save(self, path: Union[str, "os.PathLike[str]"]) -> None:
        """Write this fitted quantizer (its codewords, and an OPQ's R) to `path`
        in nanopq_cpp's model file format, replacing the file atomically.

        The file is read back by :func:`nanopq_cpp.load` and by C++'s
        ``nanopq_cpp::load_model``; see docs/model-format.md.

        Args:
            path (str or os.PathLike): where to write (replaced if it exists)
        """
        write_model(path, *self._model_arrays())
