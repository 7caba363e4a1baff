"""Sphinx configuration for nanopq_cpp's documentation site.

Build with ``pip install ".[docs]"`` and ``sphinx-build -W -b html docs docs/_build/html``.
The API reference is generated from the installed package's docstrings (Google
style, read by napoleon), so the package must be importable; the C++ API page
from the public headers' /// comments, by Doxygen (docs/Doxyfile, run below;
it fails on an undocumented public symbol) and breathe.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import nanopq_cpp
from sphinx import addnodes

project = "nanopq_cpp"
author = "nanopq_cpp contributors"
copyright = "nanopq_cpp contributors, MIT License"
release = nanopq_cpp.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "myst_parser",
    "breathe",
]

# -- Doxygen + breathe: the C++ reference -----------------------------------------
DOCS = Path(__file__).resolve().parent
DOXYGEN_XML = DOCS / "_build" / "doxygen" / "xml"
breathe_projects = {"nanopq_cpp": str(DOXYGEN_XML)}
breathe_default_project = "nanopq_cpp"
breathe_default_members = ("members",)
breathe_show_include = False  # the sections say which header holds what


def _run_doxygen() -> None:
    """Writes the headers' XML for breathe; any Doxygen warning (an undocumented
    public symbol among them) fails the build, as Doxyfile's WARN_AS_ERROR says."""
    (DOCS / "_build" / "doxygen").mkdir(parents=True, exist_ok=True)
    subprocess.run(["doxygen", "Doxyfile"], cwd=DOCS, check=True)


_run_doxygen()

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build"]

# Every cross-reference must resolve: a renamed function breaks the build
# instead of leaving a dead link. Names from outside the project (numpy, faiss,
# the standard library) have no inventory here (no intersphinx: the build must
# work offline), so they are listed as known-external below.
nitpicky = True
nitpick_ignore_regex = [
    # Builtins and standard-library types, as written in docstrings and signatures.
    ("py:class", r"(int|float|str|bool|bytes|bytearray|memoryview|object|type|tuple|list|dict|None)"),
    ("py:class", r"(os\.)?PathLike(\[str\])?|io\.IOBase|optional"),
    # Plain-words types, as in "sequence of np.ndarray".
    ("py:class", r"sequence|iterable|callable|array-like"),
    ("py:class", r"(typing\.)?(Any|Optional|Union|Tuple|List|Dict|Type|Iterator|Callable|Sequence)"),
    ("py:exc", r"(AssertionError|ValueError|TypeError|IndexError|RuntimeError|MemoryError|OSError)"),
    ("py:class", r"(AssertionError|ValueError|TypeError|IndexError|RuntimeError|Exception)"),
    # numpy and faiss types.
    ("py:class", r"(np|numpy)\.(ndarray|uint8|uint16|uint32|unsignedinteger|dtype|poly1d)(\[.*\])?"),
    ("py:class", r"ndarray"),
    ("py:class", r"faiss\.\w+"),
    # The C++ standard library, on the C++ API page.
    ("cpp:identifier", r"std(::\w+)*"),
    # The engine's types, which public signatures name but the reference
    # leaves out (internal: cpp-api.rst says so).
    ("cpp:identifier", r"impl(::\w+)*"),
]

# -- autodoc / napoleon: the docstrings are Google style, as nanopq's ----------
autodoc_member_order = "bysource"
autodoc_typehints = "none"  # nanopq's signatures carry no annotations; the docstrings give the types
autodoc_default_options = {"members": True}
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = True
napoleon_use_ivar = False  # each attribute gets its own entry, linkable as PQ.codewords

# -- MyST: Markdown pages, and the Markdown files kept elsewhere in the repository
myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3


def _link_files_next_to_included_markdown(app, doctree) -> None:
    """Turns a relative link in an included Markdown file into a download link.

    bench/RESULTS.md links ``results.json`` next to itself, which is right on
    GitHub; MyST resolves it against the including page (docs/performance.md)
    and finds nothing. Such a link, when the file exists next to the Markdown
    file the link came from, becomes a download of that file. Runs before
    Sphinx's own doctree-read handlers (priority 500), which collect downloads.
    """
    page_dir = Path(app.env.doc2path(app.env.docname)).parent
    for node in list(doctree.findall(addnodes.pending_xref)):
        if node.get("reftype") != "myst" or node.get("refdomain") or not node.source:
            continue
        origin = Path(node.source).parent
        if origin.resolve() == page_dir.resolve():
            continue  # a link of the page itself: MyST's resolution stands
        target = origin / node["reftarget"].split("#")[0]
        if not target.is_file():
            continue
        download = addnodes.download_reference(
            "",
            "",
            *node.children,
            refdoc=app.env.docname,
            reftarget=os.path.relpath(target, page_dir),
            refexplicit=True,
        )
        node.replace_self(download)


# -- C++ domain ----------------------------------------------------------------
primary_domain = "py"
highlight_language = "python3"

# -- HTML ----------------------------------------------------------------------
html_theme = "alabaster"
html_title = f"nanopq_cpp {release}"
html_theme_options = {
    "description": "nanopq's interface on a fast C++ core",
    "fixed_sidebar": True,
    "show_relbars": True,
}
html_sidebars = {"**": ["about.html", "navigation.html", "searchbox.html"]}
html_static_path: list = []


def setup(app):
    app.connect("doctree-read", _link_files_next_to_included_markdown, priority=400)
