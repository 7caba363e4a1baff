"""The package's modules depend in one direction: no import cycles, and no
import of a sibling hidden inside a function (where a cycle would hide)."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, List, Set

PACKAGE = Path(__file__).resolve().parent.parent / "python" / "nanopq_cpp"


def sibling_imports(tree: ast.Module) -> List[ast.ImportFrom]:
    """Every `from . import x` / `from .x import y` in the module, at any depth."""
    return [node for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level == 1]


def imported_modules(node: ast.ImportFrom, modules: Set[str]) -> Set[str]:
    if node.module:
        return {node.module.split(".")[0]}
    return {alias.name for alias in node.names if alias.name in modules}


def import_graph() -> Dict[str, Set[str]]:
    sources = {path.stem: ast.parse(path.read_text(encoding="utf-8")) for path in PACKAGE.glob("*.py")}
    modules = set(sources) | {"_core"}
    graph = {}
    for name, tree in sources.items():
        edges: Set[str] = set()
        for node in sibling_imports(tree):
            edges |= imported_modules(node, modules)
        graph[name] = edges - {"_core"}  # the compiled core imports nothing of ours
    return graph


def test_no_module_imports_a_sibling_inside_a_function():
    hidden = []
    for path in sorted(PACKAGE.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        top_level = {id(node) for node in tree.body}
        hidden += [
            f"{path.name}:{node.lineno}" for node in sibling_imports(tree) if id(node) not in top_level
        ]
    assert not hidden, f"imports of sibling modules inside functions: {hidden}"


def test_the_import_graph_has_no_cycle():
    graph = import_graph()
    assert {"pq", "opq", "model_file", "_pickle", "_state", "_model_bytes"} <= set(graph)
    visiting: List[str] = []
    done: Set[str] = set()

    def visit(module: str) -> None:
        assert module not in visiting, (
            f"import cycle: {' -> '.join(visiting[visiting.index(module) :] + [module])}"
        )
        if module in done:
            return
        visiting.append(module)
        for dependency in sorted(graph.get(module, ())):
            visit(dependency)
        visiting.pop()
        done.add(module)

    for module in sorted(graph):
        visit(module)
    # The direction the layout intends: the model and state helpers sit below
    # the quantizers, which sit below the modules that build quantizers.
    assert "pq" not in graph["_state"] | graph["_model_bytes"]
    assert {"pq", "opq"} <= graph["model_file"] and {"pq", "opq"} <= graph["_pickle"]
