"""Finding the definitions a failing test talks about, when its traceback does not lead there.

A test that checks a value (`assert jmespath.search("avg(@)", data) == 3`) fails in the test file
itself: no frame points at `_func_avg`. The words of the failing tests (identifiers, the test's own
name, words inside its string literals) are matched against the definitions of the files a fix may
change, through `ast`: a definition whose name is a word, or has a word as one of its `_` parts,
counts. Files are ranked by how many of their definitions match.
"""

from __future__ import annotations

import ast
import re
import textwrap
from collections.abc import Callable, Iterable

Reader = Callable[[str], "str | None"]
_COMMON = {"test", "tests", "assert", "self", "none", "true", "false", "return", "data", "value", "values",
           "result", "expected", "actual", "def", "import", "from", "the", "and", "for", "not", "with", "list",
           "dict", "str", "int", "len", "get", "set", "raises", "pytest", "mark", "parametrize", "fixture"}
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]{2,}")


def words(sources: Iterable[str], test_ids: Iterable[str] = (), exclude: Iterable[str] = ()) -> set[str]:
    """Lower-case words of the failing tests, without the common ones and `exclude` (names the
    imports already resolved)."""
    found: set[str] = set()
    for source in sources:
        try:
            tree = ast.parse(textwrap.dedent(source))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Name):
                found.update(node.id.lower().split("_"))
            elif isinstance(node, ast.Attribute):
                found.update(node.attr.lower().split("_"))
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                found.update(node.name.lower().split("_"))
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                found.update(w.lower() for w in _WORD.findall(node.value))
    for test_id in test_ids:
        found.update(w.lower() for w in _WORD.findall(test_id.split("::")[-1]))
    skip = _COMMON | {e.lower() for e in exclude}
    return {w for w in found if len(w) >= 3 and w not in skip}


def matches(text: str, wanted: set[str]) -> list[str]:
    """Top-level definitions of `text` (`Class.method` for methods) whose names match a word."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return []

    def hit(name: str) -> bool:
        lower = name.lower()
        return lower in wanted or any(part in wanted for part in lower.split("_") if part)

    found: list[str] = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and hit(node.name):
            found.append(node.name)
        elif isinstance(node, ast.ClassDef):
            methods = [n for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and hit(n.name)]
            if hit(node.name):
                found.append(node.name)
            found.extend(f"{node.name}.{m.name}" for m in methods)  # the method alone, for a big class
    return found


def _size(text: str, names: list[str]) -> int:
    """Lines of code in these definitions: between equal matches, the file where the logic is."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return 0
    total = 0
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and any(
                n == node.name or n.endswith("." + node.name) for n in names):
            total += (node.end_lineno or node.lineno) - node.lineno + 1
    return total


def ranked(candidates: Iterable[str], read: Reader, wanted: set[str]) -> list[tuple[str, list[str]]]:
    """(file, matching definitions) for the files with any match: most matches first, then most code."""
    scored = []
    for path in candidates:
        text = read(path) or ""
        names = matches(text, wanted) if wanted else []
        if names:
            scored.append((-len(names), -_size(text, names), path, list(dict.fromkeys(names))))
    return [(path, names) for _, _, path, names in sorted(scored)]
