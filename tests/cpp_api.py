"""The public C++ API, read from two places: the headers and docs/cpp-api.rst.

tests/test_docs.py compares the two, so the hand-written C++ API page cannot
fall behind the headers: an entity declared in a header but missing from the
page, or documented but gone from the headers, fails the test. An entity is a
class, struct, enum, enumerator, type alias, variable, macro or function
(each overload counted separately, by its parameter names), at namespace scope
or a public member of a public class.

Public means declared in namespace ``nanopq_cpp`` or ``nanopq_cpp::linalg``.
The namespaces ``detail`` (helpers), ``reference``, ``avx2``, ``avx512`` and
``neon`` (the per-instruction-set kernels behind the dispatcher) are
implementation details. The public macros are those of version.hpp; the
others (platform tests, target attributes of the SIMD kernels) are
implementation details too.

The headers are read with a small scanner, not a compiler: it relies on the
repository's clang-format style (one declaration per statement, braces of
bodies balanced) and on C++17 as the headers use it. The page is read from its
``.. cpp:...::`` directives, whose signatures Sphinx itself also parses.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable, List, NamedTuple, Optional, Tuple

PUBLIC_NAMESPACES = ("nanopq_cpp", "nanopq_cpp::linalg")
# The header whose macros are public; macros elsewhere are implementation details.
PUBLIC_MACRO_HEADERS = {"version.hpp"}

# What an entity is, as the page's directive names it (cpp:function -> "function").
KINDS = ("class", "struct", "enum", "enumerator", "type", "var", "member", "function", "macro")


class Entity(NamedTuple):
    """One documented or declared thing: its kind, qualified name, and for a
    function the names of its parameters (which tell overloads apart)."""

    kind: str
    name: str
    parameters: Optional[Tuple[str, ...]] = None

    def __str__(self) -> str:
        if self.parameters is None:
            return f"{self.kind} {self.name}"
        return f"{self.kind} {self.name}({', '.join(self.parameters)})"


# -- scanning C++ text ------------------------------------------------------------

_IDENTIFIER = re.compile(r"[A-Za-z_]\w*")
_KEYWORDS_BEFORE_PAREN = {"decltype", "sizeof", "alignof", "noexcept", "static_assert", "alignas", "requires"}


def strip_comments_and_strings(text: str) -> str:
    """The source with comments removed and string/char literals emptied, line breaks kept."""
    pattern = re.compile(
        r'//[^\n]*|/\*.*?\*/|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'',
        re.DOTALL,
    )

    def replace(match: re.Match) -> str:
        token = match.group(0)
        if token.startswith("//"):
            return ""
        if token.startswith("/*"):
            return "\n" * token.count("\n")
        return token[0] * 2  # "" or ''

    return pattern.sub(replace, text)


def split_top_level(text: str, separator: str = ",") -> List[str]:
    """Splits at `separator` outside (), [], {} and <> (template brackets)."""
    parts, depth, current = [], 0, []
    for char in text:
        if char in "([{<":
            depth += 1
        elif char in ")]}>":
            depth -= 1
        if char == separator and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [part.strip() for part in parts if part.strip()]


def _matching(text: str, start: int, opening: str, closing: str) -> int:
    """Index of the bracket closing the one at `start`."""
    depth = 0
    for index in range(start, len(text)):
        if text[index] == opening:
            depth += 1
        elif text[index] == closing:
            depth -= 1
            if depth == 0:
                return index
    raise ValueError(f"unbalanced {opening}{closing} in {text!r}")


def _drop_template_prefix(text: str) -> str:
    """`template <class T> void f(...)` -> `void f(...)`."""
    text = text.strip()
    while text.startswith("template"):
        start = text.index("<")
        text = text[_matching(text, start, "<", ">") + 1 :].strip()
    return text


def parameter_name(parameter: str) -> str:
    """The name in one parameter declaration: `const float* vecs = nullptr` -> `vecs`."""
    declaration = split_top_level(parameter, "=")[0]
    pointer_to_function = re.search(r"\(\s*\*\s*(\w+)\s*\)", declaration)
    if pointer_to_function:
        return pointer_to_function.group(1)
    declaration = re.sub(r"\[[^\]]*\]\s*$", "", declaration).strip()  # arrays: `float x[8]`
    names = _IDENTIFIER.findall(declaration)
    return names[-1] if names else ""


def function_signature(declaration: str) -> Optional[Tuple[str, Tuple[str, ...]]]:
    """(name, parameter names) of a function declaration, or None if it is not one."""
    text = _drop_template_prefix(declaration)
    operator = re.search(r"\boperator\s*(\(\)|[^\s(]+)\s*\(", text)
    if operator:
        name = "operator" + operator.group(1)
        open_paren = operator.end() - 1
    else:
        for match in re.finditer(r"([A-Za-z_~]\w*)\s*\(", text):
            if match.group(1) in _KEYWORDS_BEFORE_PAREN:
                continue
            name, open_paren = match.group(1), match.end() - 1
            break
        else:
            return None
    inside = text[open_paren + 1 : _matching(text, open_paren, "(", ")")]
    if inside.strip() == "void":
        inside = ""
    return name, tuple(parameter_name(p) for p in split_top_level(inside))


def variable_name(declaration: str) -> str:
    """The declared name of `inline constexpr std::size_t kScanBlock = 4096`, `float key`, ..."""
    head = split_top_level(declaration, "=")[0]
    head = re.sub(r"\{.*$", "", head, flags=re.DOTALL)  # brace initialiser
    head = re.sub(r"\[[^\]]*\]\s*$", "", head).strip()
    return _IDENTIFIER.findall(head)[-1]


# -- the headers --------------------------------------------------------------------


def header_entities(include_dir: Path) -> List[Entity]:
    """Every public entity declared in the headers under `include_dir`."""
    entities: List[Entity] = []
    for header in sorted(include_dir.rglob("*.hpp")):
        source = header.read_text(encoding="utf-8")
        entities.extend(_entities_of(source, public_macros=header.name in PUBLIC_MACRO_HEADERS))
    return entities


def _entities_of(source: str, public_macros: bool = False) -> List[Entity]:
    entities: List[Entity] = []
    code_lines = []
    in_directive = False  # inside a preprocessor line continued with a backslash
    for line in strip_comments_and_strings(source).splitlines():
        stripped = line.strip()
        if in_directive or stripped.startswith("#"):
            define = re.match(r"#\s*define\s+(\w+)", stripped)
            if define and not in_directive and public_macros:
                entities.append(Entity("macro", define.group(1)))
            in_directive = stripped.endswith("\\")
            code_lines.append("")
        else:
            code_lines.append(line)
    _Scanner("\n".join(code_lines), entities).run()
    return entities


class _Scope(NamedTuple):
    kind: str  # "namespace", "class", "enum", "body" (function bodies, initialisers)
    name: str  # qualified name for namespaces, classes and enums
    public: bool  # for "class": whether the current access section is public


class _Scanner:
    def __init__(self, code: str, entities: List[Entity]) -> None:
        self.code = code
        self.entities = entities
        self.stack: List[_Scope] = []

    def _namespace(self) -> Optional[str]:
        """The qualified name of the innermost scope, if declarations there are public."""
        if not self.stack:
            return None
        scope = self.stack[-1]
        if scope.kind == "namespace":
            return scope.name if scope.name in PUBLIC_NAMESPACES else None
        if scope.kind == "class":
            return scope.name if scope.public and self._all_public() else None
        return None

    def _all_public(self) -> bool:
        """True when every enclosing namespace is public and every enclosing class section too."""
        for scope in self.stack:
            if scope.kind == "namespace" and scope.name not in PUBLIC_NAMESPACES:
                return False
            if scope.kind == "class" and not scope.public:
                return False
            if scope.kind in ("body", "enum"):
                return False
        return True

    def run(self) -> None:
        statement: List[str] = []
        index = 0
        code = self.code
        parentheses = 0  # braces inside parentheses are default arguments (`= {}`), not scopes
        while index < len(code):
            char = code[index]
            in_body = bool(self.stack) and self.stack[-1].kind in ("body", "enum")
            if char in "()":
                parentheses += 1 if char == "(" else -1
            if parentheses > 0 or char == ")":
                statement.append(char)
            elif char == "{":
                self._open("".join(statement))
                statement = []
            elif char == "}":
                if self.stack and self.stack[-1].kind == "enum":
                    self._enumerators("".join(statement))
                if self.stack:
                    self.stack.pop()
                statement = []
            elif in_body:
                statement.append(char)
            elif char == ";":
                self._declaration("".join(statement))
                statement = []
            elif char == ":" and self.stack and self.stack[-1].kind == "class":
                access = "".join(statement).strip()
                if access in ("public", "private", "protected") and code[index + 1] != ":":
                    top = self.stack[-1]
                    self.stack[-1] = top._replace(public=access == "public")
                    statement = []
                else:
                    statement.append(char)
            else:
                statement.append(char)
            index += 1

    def _qualified(self, name: str) -> Optional[str]:
        scope = self._namespace()
        return None if scope is None else f"{scope}::{name}"

    def _open(self, head: str) -> None:
        text = " ".join(head.split())
        if self.stack and self.stack[-1].kind in ("body", "enum"):
            self.stack.append(_Scope("body", "", False))
            return
        namespace = re.fullmatch(r"(?:inline\s+)?namespace\s*([\w:]*)", text)
        if namespace:
            outer = self.stack[-1].name if self.stack else ""
            name = namespace.group(1)
            qualified = f"{outer}::{name}" if outer else name
            self.stack.append(_Scope("namespace", qualified, True))
            return
        enum = re.match(r"enum\s+(?:class\s+|struct\s+)?(\w+)", text)
        if enum:
            qualified = self._qualified(enum.group(1))
            if qualified:
                self.entities.append(Entity("enum", qualified))
            self.stack.append(_Scope("enum", qualified or "", False))
            return
        record = re.match(r"(?:template\s*<.*>\s*)?(class|struct)\s+(\w+)\s*(?::[^{]*)?$", text)
        if record and "(" not in text:
            qualified = self._qualified(record.group(2))
            if qualified:
                self.entities.append(Entity(record.group(1), qualified))
            name = qualified or f"<private>::{record.group(2)}"
            self.stack.append(_Scope("class", name, record.group(1) == "struct"))
            return
        # A function definition, or a variable with a brace initialiser.
        self._declaration(text)
        self.stack.append(_Scope("body", "", False))

    def _enumerators(self, body: str) -> None:
        enum = self.stack[-1].name
        if not enum:
            return
        for item in split_top_level(body):
            self.entities.append(Entity("enumerator", f"{enum}::{variable_name(item)}"))

    def _declaration(self, statement: str) -> None:
        text = " ".join(statement.split())
        if not text or self._namespace() is None:
            return
        if text.startswith(("using namespace", "static_assert", "friend")):
            return
        alias = re.match(r"using\s+(\w+)\s*=", text)
        if alias:
            self.entities.append(Entity("type", self._qualified(alias.group(1)) or ""))
            return
        if text.startswith("using "):  # using-declarations, e.g. inherited constructors
            return
        in_class = self.stack[-1].kind == "class"
        # A data member that is a pointer to a function: `void (*name)(...)`.
        pointer = re.search(r"\(\s*\*\s*(\w+)\s*\)\s*\(", text)
        if pointer:
            self.entities.append(Entity("member", self._qualified(pointer.group(1)) or ""))
            return
        before_initialiser = split_top_level(text, "=")[0]
        signature = function_signature(before_initialiser) if "(" in before_initialiser else None
        if signature:
            name, parameters = signature
            self.entities.append(Entity("function", self._qualified(name) or "", parameters))
            return
        self.entities.append(
            Entity("member" if in_class else "var", self._qualified(variable_name(text)) or "")
        )


# -- the page -------------------------------------------------------------------------

# ``cpp:`` directives, and ``c:macro`` (the C++ domain has no directive for macros).
_DIRECTIVE = re.compile(
    r"^(?P<indent>\s*)\.\.\s+(?:cpp:(?P<kind>[\w-]+)|c:(?P<c_kind>macro))::\s*(?P<signature>.*)$"
)


def page_entities(page: Path) -> List[Entity]:
    """Every entity documented by a ``.. cpp:<kind>::`` directive on `page`.

    Directives nest by indentation (members under their class), and
    ``.. cpp:namespace::`` / ``cpp:namespace-push::`` / ``cpp:namespace-pop::``
    set the enclosing namespace, as in Sphinx. A directive may document several
    overloads, one signature per line, as Sphinx allows.
    """
    entities: List[Entity] = []
    namespaces: List[str] = []
    parents: List[Tuple[int, str]] = []  # (indent, qualified name) of enclosing classes and enums
    lines = page.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        match = _DIRECTIVE.match(lines[index])
        index += 1
        if not match:
            continue
        indent, kind = len(match.group("indent")), match.group("kind") or match.group("c_kind")
        signatures = [match.group("signature")]
        # Further signatures (overloads): the rest of the directive's argument
        # block, i.e. indented lines up to a blank line or an option.
        while index < len(lines) and lines[index].strip() and not lines[index].lstrip().startswith(":"):
            if len(lines[index]) - len(lines[index].lstrip()) <= indent:
                break
            signatures.append(lines[index].strip())
            index += 1
        if kind == "namespace":
            namespaces = [] if signatures[0] in ("0", "NULL", "nullptr") else [signatures[0]]
            parents = []
            continue
        if kind == "namespace-push":
            namespaces.append(signatures[0])
            continue
        if kind == "namespace-pop":
            namespaces.pop()
            continue
        while parents and parents[-1][0] >= indent:
            parents.pop()
        scope = parents[-1][1] if parents else "::".join(namespaces)
        for signature in signatures:
            entity = _entity_of_directive(kind, signature, scope)
            entities.append(entity)
            if kind in ("class", "struct", "enum", "enum-class", "enum-struct"):
                parents.append((indent, entity.name))
    return entities


def _entity_of_directive(kind: str, signature: str, scope: str) -> Entity:
    def qualified(name: str) -> str:
        return f"{scope}::{name}" if scope else name

    signature = signature.strip()
    if kind in ("class", "struct"):
        name = re.match(r"(?:template\s*<.*>\s*)?(\w+)", _drop_template_prefix(signature)).group(1)
        return Entity(kind, qualified(name))
    if kind in ("enum", "enum-class", "enum-struct"):
        return Entity("enum", qualified(re.match(r"(\w+)", signature).group(1)))
    if kind == "enumerator":
        return Entity("enumerator", qualified(variable_name(signature)))
    if kind == "type":
        alias = re.match(r"(\w+)\s*=", signature)
        return Entity("type", qualified(alias.group(1) if alias else variable_name(signature)))
    if kind == "macro":
        return Entity("macro", re.match(r"(\w+)", signature).group(1))
    if kind in ("member", "var"):
        pointer = re.search(r"\(\s*\*\s*(\w+)\s*\)\s*\(", signature)
        name = pointer.group(1) if pointer else variable_name(signature)
        # Sphinx has one directive for both; a member is what sits in a class.
        return Entity("var" if not scope or scope in PUBLIC_NAMESPACES else "member", qualified(name))
    if kind == "function":
        parsed = function_signature(signature)
        if parsed is None:
            raise ValueError(f"cannot read the function signature {signature!r}")
        name, parameters = parsed
        return Entity("function", qualified(name), parameters)
    raise ValueError(f"unexpected directive cpp:{kind}:: {signature}")


def describe(entities: Iterable[Entity]) -> str:
    return "\n".join(f"  {entity}" for entity in sorted(entities))
