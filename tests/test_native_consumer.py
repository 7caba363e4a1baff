"""Native C++ use of nanopq_cpp, the ways the README describes.

The example in examples/cpp is built with ``find_package`` against the installed
Python package (``get_cmake_dir()``), with ``add_subdirectory`` of this source
tree, and with ``find_package`` against a plain ``cmake --install`` prefix; each
build must load a model saved in Python and encode exactly as Python does.
``get_include()`` and the pkg-config file serve other build systems.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nanopq_cpp
import native_build
import numpy as np
import pytest

CMAKE_PACKAGE_FILES = {"nanopq_cppConfig.cmake", "nanopq_cppConfigVersion.cmake", "nanopq_cppTargets.cmake"}

# A program that uses the headers and prints the version it was compiled with.
PROGRAM = r"""
#include <nanopq_cpp/nanopq_cpp.hpp>

#include <cstdio>
#include <vector>

int main() {
    // M=1, Ks=2, Ds=1: the codeword nearer to 0.9 is 1.0.
    const nanopq_cpp::ProductQuantizer pq(1, 2, 1, std::vector<float>{-1.0f, 1.0f});
    const float x = 0.9f;
    const nanopq_cpp::Codes codes = pq.encode(&x, 1);
    std::printf("%s %u\n", NANOPQ_CPP_VERSION_STRING, static_cast<unsigned>(codes.at(0, 0)));
    return NANOPQ_CPP_VERSION > 0 ? 0 : 1;
}
"""


def gcc_like_compiler() -> str:
    """A GCC- or Clang-style C++ compiler driver, or skip."""
    if sys.platform == "win32":
        pytest.skip("the direct compiler invocation uses GCC/Clang flags")
    for name in (os.environ.get("CXX", ""), "c++", "g++", "clang++"):
        if name and shutil.which(name):
            return shutil.which(name)
    pytest.skip("no GCC/Clang-style C++ compiler found")


def compile_and_run(compiler: str, source: Path, flags: list) -> str:
    executable = source.with_suffix("")
    command = [
        compiler,
        "-std=c++17",
        "-O2",
        "-Wall",
        "-Wextra",
        "-Wpedantic",
        "-Werror",
        str(source),
        "-o",
        str(executable),
        *flags,
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stderr}"
    return subprocess.run([str(executable)], capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    """A PQ trained and saved in Python, with vectors to encode."""
    directory = tmp_path_factory.mktemp("model")
    rng = np.random.default_rng(3)
    X = rng.normal(size=(600, 16)).astype(np.float32)
    pq = nanopq_cpp.PQ(M=4, Ks=64, verbose=False).fit(X[:400])
    pq.save(directory / "model.npq")
    X.tofile(directory / "x.f32")
    return pq, X, directory


@pytest.mark.parametrize("mode", native_build.MODES)
def test_the_example_builds_and_encodes_as_python(tmp_path_factory, saved_model, mode):
    pq, X, directory = saved_model
    example = native_build.build_example(tmp_path_factory, mode)
    info = native_build.run_example(example, "info", directory / "model.npq")
    assert info.split() == [
        "kind=PQ",
        "M=4",
        "Ks=64",
        "Ds=4",
        "metric=l2",
        "code_bytes=1",
        f"nanopq_cpp={nanopq_cpp.__version__}",
    ]
    codes = native_build.parse_codes(
        native_build.run_example(example, "encode", directory / "model.npq", directory / "x.f32")
    )
    np.testing.assert_array_equal(codes, pq.encode(X))


def test_get_include_holds_the_headers_of_this_version():
    include = Path(nanopq_cpp.get_include())
    assert include.is_absolute()
    for header in ("nanopq_cpp.hpp", "quantizer.hpp", "model_file.hpp", "version.hpp"):
        assert (include / "nanopq_cpp" / header).is_file()
    version_header = (include / "nanopq_cpp" / "version.hpp").read_text()
    assert f'#define NANOPQ_CPP_VERSION_STRING "{nanopq_cpp.__version__}"' in version_header


def test_get_cmake_dir_holds_the_cmake_package_of_this_version():
    cmake_dir = Path(nanopq_cpp.get_cmake_dir())
    assert cmake_dir.is_absolute()
    assert CMAKE_PACKAGE_FILES <= {path.name for path in cmake_dir.iterdir()}
    assert (
        f'set(PACKAGE_VERSION "{nanopq_cpp.__version__}")'
        in (cmake_dir / "nanopq_cppConfigVersion.cmake").read_text()
    )


def test_headers_compile_warning_free_from_get_include(tmp_path):
    """For build systems other than CMake: -I$(get_include()) is all it takes."""
    compiler = gcc_like_compiler()
    if not native_build.installed_headers_are_current():
        pytest.skip("the editable install's headers are older than the source tree; reinstall nanopq_cpp")
    source = tmp_path / "program.cpp"
    source.write_text(PROGRAM)
    output = compile_and_run(compiler, source, [f"-I{nanopq_cpp.get_include()}", "-pthread"])
    assert output.split() == [nanopq_cpp.__version__, "1"]


def test_a_native_install_holds_headers_cmake_package_and_pkg_config(tmp_path_factory):
    prefix = native_build.installed_prefix(tmp_path_factory)
    source_headers = native_build.REPO / "cpp" / "include" / "nanopq_cpp"
    installed = {
        path.relative_to(prefix / "include" / "nanopq_cpp") for path in (prefix / "include").rglob("*.hpp")
    }
    assert installed == {path.relative_to(source_headers) for path in source_headers.rglob("*.hpp")}
    assert CMAKE_PACKAGE_FILES == {
        path.name for path in (prefix / "share" / "cmake" / "nanopq_cpp").iterdir()
    }
    assert (prefix / "share" / "pkgconfig" / "nanopq_cpp.pc").is_file()


def test_pkg_config_finds_the_native_install(tmp_path_factory, tmp_path):
    pkg_config = shutil.which("pkg-config")
    if pkg_config is None:
        pytest.skip("pkg-config is not installed")
    compiler = gcc_like_compiler()
    prefix = native_build.installed_prefix(tmp_path_factory)
    # The .pc file locates the headers from its own directory, so a prefix
    # chosen at install time (not configure time) works.
    environment = {**os.environ, "PKG_CONFIG_PATH": str(prefix / "share" / "pkgconfig")}

    def query(*arguments: str) -> str:
        return subprocess.run(
            [pkg_config, *arguments, "nanopq_cpp"],
            capture_output=True,
            text=True,
            env=environment,
            check=True,
        ).stdout.strip()

    assert query("--modversion") == nanopq_cpp.__version__
    flags = query("--cflags", "--libs").split()
    include_dirs = [Path(flag[2:]).resolve() for flag in flags if flag.startswith("-I")]
    assert include_dirs == [(prefix / "include").resolve()]
    source = tmp_path / "program.cpp"
    source.write_text(PROGRAM)
    assert compile_and_run(compiler, source, flags).split() == [nanopq_cpp.__version__, "1"]
