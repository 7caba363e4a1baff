"""Exceptions raised for bad input.

nanopq reports bad input with ``assert``, so code written against it catches
``AssertionError``. Ours subclass it, and also the built-in exception a Python
user would expect (``ValueError``, ``TypeError``, ...), so both kinds of
``except`` clause keep working.
"""

from __future__ import annotations

import contextlib
from typing import Iterator


class InputError(AssertionError, ValueError):
    """An argument has the wrong shape or value; the message names it."""


class DTypeError(InputError, TypeError):
    """An array has the wrong dtype or an argument the wrong type."""


class CodeError(InputError, IndexError):
    """A PQ code is out of range (negative, or not below ``Ks``)."""


class NotFittedError(AssertionError, RuntimeError):
    """The quantizer is used before ``fit()`` (or before its codewords were set)."""


class ModelFileError(InputError):
    """A model file cannot be loaded: not a model file, truncated, corrupted, or of a newer format."""


@contextlib.contextmanager
def core_errors() -> Iterator[None]:
    """Re-raises the compiled core's errors as this package's exception types.

    The Python layer checks arguments first; this catches what only the core
    can see (a code value out of range, a size that cannot be allocated).
    """
    try:
        yield
    except IndexError as error:
        raise CodeError(str(error)) from None
    except ValueError as error:
        if isinstance(error, InputError):
            raise
        raise InputError(str(error)) from None
