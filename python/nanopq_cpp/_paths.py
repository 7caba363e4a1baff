"""Where the installed package keeps the C++ headers and the CMake package.

A wheel carries the header-only core (``nanopq_cpp/include``) and its CMake
config (``nanopq_cpp/share/cmake/nanopq_cpp``), so a C++ program can build
against exactly the code that the Python module runs.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Relative to a directory of the package; both are installed by CMakeLists.txt.
_INCLUDE_MARKER = Path("include", "nanopq_cpp", "nanopq_cpp.hpp")
_CMAKE_MARKER = Path("share", "cmake", "nanopq_cpp", "nanopq_cppConfig.cmake")


def _installed_dir(marker: Path) -> Path:
    """The first package directory holding `marker`.

    An editable install spreads the package over several directories (the
    source tree and site-packages, where the built files go), so every entry of
    ``__path__`` is searched rather than only this file's directory.
    """
    package_dirs = sys.modules[__package__].__path__

    for directory in package_dirs:
        if (Path(directory) / marker).is_file():
            return Path(directory)
    raise FileNotFoundError(
        f"nanopq_cpp's installed C++ files ({marker.as_posix()}) were not found in {list(package_dirs)}; "
        "install nanopq_cpp from a wheel or with pip, or build from the source tree with CMake "
        "(add_subdirectory or cmake --install)"
    )


def get_include() -> str:
    """The directory to put on the include path for ``#include <nanopq_cpp/nanopq_cpp.hpp>``.

    Returns:
        str: an absolute path, for build systems other than CMake
        (e.g. ``-I$(python -c "import nanopq_cpp; print(nanopq_cpp.get_include())")``).
    """
    return str((_installed_dir(_INCLUDE_MARKER) / "include").resolve())


def get_cmake_dir() -> str:
    """The directory of nanopq_cpp's CMake package (``nanopq_cppConfig.cmake``).

    Pass it as ``-Dnanopq_cpp_DIR=...`` (or add it to ``CMAKE_PREFIX_PATH``), then
    ``find_package(nanopq_cpp CONFIG REQUIRED)`` and link ``nanopq_cpp::nanopq_cpp``.

    Returns:
        str: an absolute path
    """
    return str((_installed_dir(_CMAKE_MARKER) / _CMAKE_MARKER.parent).resolve())
