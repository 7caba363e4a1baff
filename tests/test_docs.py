"""The documentation site (docs/) cannot go stale.

- Every Python code block of the Markdown pages runs, page by page, in order,
  in one namespace per page. A block preceded by a ``% requires: <module>``
  comment runs only where that module imports; one preceded by
  ``% not run: <reason>`` is a sketch that is not run (Ray, Spark).
- Every C++ code block of docs/cpp-api.rst captioned with a ``.cpp`` file name
  is a complete program: it is compiled against cpp/include and run.
- The hand-written C++ API page documents exactly the public declarations of
  the headers (tests/cpp_api.py says what counts), each function overload with
  its parameter names.
- The API reference has an entry for every name in ``nanopq_cpp.__all__``,
  and every environment variable the sources read is documented.
- With the docs extra installed (``pip install ".[docs]"``), the site builds
  with ``sphinx-build -W`` (warnings are errors, nitpicky references on), and
  its inventory holds every public name.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path
from typing import Dict, List, NamedTuple, Optional, Set, Tuple

import cpp_api
import nanopq_cpp
import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
INCLUDE = REPO / "cpp" / "include"
CPP_PAGE = DOCS / "cpp-api.rst"
API_PAGE = DOCS / "api.rst"


# -- Python code blocks of the Markdown pages -------------------------------------------


class CodeBlock(NamedTuple):
    line: int  # 1-based line of the opening fence
    code: str
    requires: Optional[str]  # a module the block needs, from `% requires: module`
    not_run: Optional[str]  # why the block is not run, from `% not run: reason`


def python_blocks(page: Path) -> List[CodeBlock]:
    """The ```python fenced blocks of a Markdown page, with the comments above them."""
    blocks = []
    lines = page.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        fence = re.match(r"^(`{3,}|~{3,})\s*(\S*)", lines[index])
        if not fence:
            index += 1
            continue
        marker, language = fence.group(1), fence.group(2)
        start = index
        index += 1
        body = []
        while index < len(lines) and not lines[index].startswith(marker):
            body.append(lines[index])
            index += 1
        index += 1
        if language not in ("python", "py", "python3"):
            continue
        comments = []
        above = start - 1
        while above >= 0 and lines[above].startswith("%"):
            comments.append(lines[above][1:].strip())
            above -= 1
        requires = next((c.split(":", 1)[1].strip() for c in comments if c.startswith("requires:")), None)
        not_run = next((c.split(":", 1)[1].strip() for c in comments if c.startswith("not run:")), None)
        blocks.append(CodeBlock(start + 1, "\n".join(body) + "\n", requires, not_run))
    return blocks


PAGES_WITH_CODE = sorted(page.name for page in DOCS.glob("*.md") if python_blocks(page))


def test_pages_with_code_are_found():
    assert {"index.md", "tutorial.md", "differences.md", "scale-out.md"} <= set(PAGES_WITH_CODE)


def importable(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


@pytest.mark.parametrize("page", PAGES_WITH_CODE)
def test_page_code_runs(page, tmp_path, monkeypatch):
    """The page's Python blocks, run in order in one namespace, from an empty directory."""
    monkeypatch.chdir(tmp_path)  # the tutorial writes pq.pkl and model files
    namespace: Dict[str, object] = {"__name__": f"docs.{page}"}
    skipped = []
    threads = nanopq_cpp.get_num_threads()
    try:
        for block in python_blocks(DOCS / page):
            if block.not_run:
                continue
            if block.requires and not importable(block.requires):
                skipped.append(f"line {block.line} needs {block.requires}")
                continue
            exec(compile(block.code, f"{DOCS / page}:{block.line}", "exec"), namespace)
    finally:
        nanopq_cpp.set_num_threads(threads)
    if skipped:
        pytest.skip(f"every other block of {page} ran; not run here: {'; '.join(skipped)}")


def test_tutorial_is_nanopqs_with_one_import_changed():
    """The tutorial imports nanopq_cpp under nanopq's name, so its first part is nanopq code."""
    first_block = python_blocks(DOCS / "tutorial.md")[0].code
    assert "import nanopq_cpp as nanopq" in first_block


# -- the C++ pages --------------------------------------------------------------------------


def test_cpp_api_page_matches_headers():
    declared = set(cpp_api.header_entities(INCLUDE / "nanopq_cpp"))
    documented = set(cpp_api.page_entities(CPP_PAGE))
    undocumented = declared - documented
    gone = documented - declared
    assert not undocumented and not gone, (
        f"docs/cpp-api.rst and the headers disagree.\n"
        f"Declared in cpp/include but not documented (add a .. cpp:<kind>:: directive):\n"
        f"{cpp_api.describe(undocumented) or '  none'}\n"
        f"Documented but not declared (renamed, removed, or parameters changed?):\n"
        f"{cpp_api.describe(gone) or '  none'}"
    )


def test_cpp_api_check_notices_changes():
    """The comparison above fails when a header changes: a new method, a renamed
    parameter, a removed class, a new function at namespace scope."""
    source = (INCLUDE / "nanopq_cpp" / "quantizer.hpp").read_text(encoding="utf-8")
    before = set(cpp_api._entities_of(source))
    edits = {
        "new method": source.replace(
            "    bool is_fitted() const {",
            "    void reset() { codewords_.clear(); }\n    bool is_fitted() const {",
        ),
        "renamed parameter": source.replace(
            "SearchResult search(const Codes& codes, std::size_t k,",
            "SearchResult search(const Codes& codes, std::size_t topk,",
        ),
        "removed class": re.sub(r"struct PQTrainingOptions \{.*?\n\};\n", "", source, flags=re.DOTALL),
        "new free function": source.replace(
            "}  // namespace nanopq_cpp",
            "inline void merge(const SearchResult& a) {}\n}  // namespace nanopq_cpp",
        ),
    }
    for change, edited in edits.items():
        assert edited != source, change
        assert set(cpp_api._entities_of(edited)) != before, f"a {change} went unnoticed"
    # Private members and detail namespaces are not part of the API.
    private = source.replace("private:\n", "private:\n    void helper(int x) {}\n", 1)
    private = private.replace(
        "namespace detail {", "namespace detail {\ninline int helper() { return 0; }", 1
    )
    assert set(cpp_api._entities_of(private)) == before


def cpp_programs(page: Path) -> List[Tuple[str, str]]:
    """(file name, source) of each ``.. code-block:: cpp`` captioned with a .cpp file name."""
    programs = []
    lines = page.read_text(encoding="utf-8").splitlines()
    for index, line in enumerate(lines):
        directive = re.match(r"^(\s*)\.\. code-block:: (?:cpp|c\+\+)\s*$", line)
        if not directive:
            continue
        indent = len(directive.group(1))
        options, body_start = {}, index + 1
        while body_start < len(lines) and re.match(r"^\s+:(\w+):\s*(.*)$", lines[body_start]):
            name, value = re.match(r"^\s+:(\w+):\s*(.*)$", lines[body_start]).groups()
            options[name] = value
            body_start += 1
        body = []
        for text in lines[body_start:]:
            if text.strip() and len(text) - len(text.lstrip()) <= indent:
                break
            body.append(text)
        if options.get("caption", "").endswith(".cpp"):
            programs.append((options["caption"], textwrap.dedent("\n".join(body)).strip() + "\n"))
    return programs


def cxx_compiler() -> Optional[str]:
    for candidate in (os.environ.get("CXX"), "c++", "g++", "clang++"):
        if candidate and shutil.which(candidate):
            return candidate
    return None


def tool_environment() -> Dict[str, str]:
    """The environment for the compiler and the example it builds: without the
    sanitizer runtime that tools/sanitize.sh preloads into the Python under
    test, which would only slow them down. (sphinx-build keeps it: it imports
    the package, whose sanitized module needs it.)"""
    return {
        name: value
        for name, value in os.environ.items()
        if name not in ("LD_PRELOAD", "DYLD_INSERT_LIBRARIES")
    }


def test_cpp_page_has_an_example_program():
    assert [name for name, _ in cpp_programs(CPP_PAGE)] == ["example.cpp"]


@pytest.mark.parametrize("name, source", cpp_programs(CPP_PAGE), ids=lambda value: str(value)[:20])
def test_cpp_example_compiles_and_runs(name, source, tmp_path):
    compiler = cxx_compiler()
    if compiler is None or sys.platform == "win32":
        pytest.skip("needs a GCC- or Clang-style C++17 compiler (c++, g++ or clang++, or $CXX)")
    (tmp_path / name).write_text(source, encoding="utf-8")
    executable = tmp_path / "example"
    # -O1: compiles about as fast as -O0, and the example's training runs faster.
    command = [compiler, "-std=c++17", "-O1", "-pthread", f"-I{INCLUDE}", name, "-o", str(executable)]
    built = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, env=tool_environment())
    assert built.returncode == 0, f"{' '.join(command)}\n{built.stdout}{built.stderr}"
    ran = subprocess.run(
        [str(executable)], cwd=tmp_path, capture_output=True, text=True, timeout=120, env=tool_environment()
    )
    assert ran.returncode == 0, f"{name} exited with {ran.returncode}\n{ran.stdout}{ran.stderr}"
    # The model it saved is one Python reads.
    if (tmp_path / "model.npq").exists():
        loaded = nanopq_cpp.load(tmp_path / "model.npq")
        assert isinstance(loaded, nanopq_cpp.PQ) and loaded.M == 8


# -- the API reference ----------------------------------------------------------------------


def documented_python_names() -> Set[str]:
    """Names given to autodoc (or documented directly) on docs/api.rst."""
    text = API_PAGE.read_text(encoding="utf-8")
    pattern = r"^\.\. (?:auto)?(?:class|function|exception|data)::\s+(?:nanopq_cpp\.)?(\w+)"
    return set(re.findall(pattern, text, flags=re.MULTILINE))


def test_api_reference_covers_all():
    missing = set(nanopq_cpp.__all__) - documented_python_names()
    assert not missing, f"add these to docs/api.rst (autoclass/autofunction/autoexception): {sorted(missing)}"
    unknown = documented_python_names() - set(nanopq_cpp.__all__)
    assert not unknown, (
        f"docs/api.rst documents names that nanopq_cpp.__all__ does not export: {sorted(unknown)}"
    )


def environment_variables() -> Set[str]:
    """Names of the environment variables the sources read: the string literals
    shaped like one (capitals, digits, underscores) in each file that reads the
    environment (getenv, os.environ)."""
    names = set()
    sources = [*INCLUDE.rglob("*.hpp"), *(REPO / "cpp" / "bindings").rglob("*.cpp")]
    sources += list((REPO / "python" / "nanopq_cpp").rglob("*.py"))
    for path in sources:
        text = path.read_text(encoding="utf-8")
        if re.search(r"\bgetenv\b|os\.environ", text):
            names.update(re.findall(r"[\"']([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)[\"']", text))
    return names


def test_environment_variables_are_documented():
    found = environment_variables()
    assert {"NANOPQ_CPP_NUM_THREADS", "OMP_NUM_THREADS", "NANOPQ_CPP_SIMD"} <= found
    documented = set(re.findall(r"^\.\. envvar:: (\S+)", API_PAGE.read_text(encoding="utf-8"), re.MULTILINE))
    assert found <= documented, (
        f"document these in docs/api.rst with .. envvar::  {sorted(found - documented)}"
    )


# -- the site itself ---------------------------------------------------------------------------


def inventory(path: Path) -> Set[Tuple[str, str]]:
    """(domain:role, name) of every object in a Sphinx objects.inv (version 2)."""
    header, _, _, _, compressed = path.read_bytes().split(b"\n", 4)
    assert header.startswith(b"# Sphinx inventory version 2"), header
    entries = set()
    for line in zlib.decompress(compressed).decode("utf-8").splitlines():
        match = re.match(r"(.+?)\s+(\S+:\S+)\s+-?\d+\s+\S*\s+.*", line)
        if match:
            entries.add((match.group(2), match.group(1)))
    return entries


def words_only(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "", text)


def test_site_builds_without_warnings(tmp_path):
    pytest.importorskip("sphinx", reason='the docs extra is not installed: pip install ".[docs]"')
    pytest.importorskip("myst_parser", reason='the docs extra is not installed: pip install ".[docs]"')
    html = tmp_path / "html"
    command = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html"]
    command += ["-d", str(tmp_path / "doctrees"), str(DOCS), str(html)]
    built = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    assert built.returncode == 0, f"{' '.join(command)}\n{built.stdout}{built.stderr}"

    objects = inventory(html / "objects.inv")
    python_names = {name for role, name in objects if role.startswith("py:")}
    missing = {f"nanopq_cpp.{name}" for name in nanopq_cpp.__all__} - python_names
    assert not missing, f"the built API reference lacks {sorted(missing)}"
    envvars = {name for role, name in objects if role == "std:envvar"}
    assert environment_variables() <= envvars
    # The Markdown kept elsewhere is included (every heading of it is on the page), with its plot.
    for source, page in (
        (REPO / "bench" / "RESULTS.md", "performance"),
        (DOCS / "model-format.md", "model-format"),
    ):
        headings = re.findall(r"^#+ (.+)$", source.read_text(encoding="utf-8"), flags=re.MULTILINE)
        # Compared as letters and digits only: markup, entities and smart quotes differ.
        text = words_only(re.sub(r"<[^>]+>|&\w+;", "", (html / f"{page}.html").read_text(encoding="utf-8")))
        assert headings and all(words_only(heading) in text for heading in headings), (source, page)
    assert (html / "_images" / "results.png").is_file()
