"""Getting a candidate module out of a model's reply.

Small models wrap code in prose, emit several blocks, drop the stub's imports, append example
calls or asserts at module level, or stop mid-statement. This picks the block that defines the
names the tests need, keeps the longest prefix that parses, removes module-level statements that
would run at import (prints, asserts, `if __name__ == "__main__"`), and restores the stub's imports.
"""

from __future__ import annotations

import ast
import re

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)


def _blocks(text: str) -> list[str]:
    blocks = [body for lang, body in _FENCE.findall(text) if lang.lower() in ("", "python", "py", "python3")]
    return blocks or [text]


def _parseable_prefix(code: str) -> ast.Module | None:
    lines = code.splitlines()
    for end in range(len(lines), 0, -1):
        try:
            return ast.parse("\n".join(lines[:end]))
        except SyntaxError:
            continue
    return None


def _defined(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


def _runs_at_import(node: ast.stmt) -> bool:
    if isinstance(node, ast.Assert):
        return True
    if isinstance(node, ast.Expr) and not isinstance(node.value, ast.Constant):
        return True  # print(...), f(...) examples
    if isinstance(node, ast.If):
        return "__name__" in ast.unparse(node.test)
    return isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test_")


def extract_code(text: str, required: list[str], stub: str = "") -> str | None:
    """The candidate module in `text`, or None when the reply holds no usable Python."""
    best: tuple[int, int, ast.Module] | None = None
    for block in _blocks(text):
        tree = _parseable_prefix(block)
        if tree is None or not tree.body:
            continue
        score = len(set(required) & _defined(tree))
        if best is None or (score, len(tree.body)) > best[:2]:
            best = (score, len(tree.body), tree)
    if best is None:
        return None
    tree = best[2]
    tree.body = [node for node in tree.body if not _runs_at_import(node)]
    if not tree.body:
        return None
    code = ast.unparse(tree)
    have = _defined(tree)
    missing_imports = [
        ast.unparse(node) for node in _stub_imports(stub)
        if not {(a.asname or a.name).split(".")[0] for a in node.names} <= have
    ]
    return ("\n".join(missing_imports) + "\n\n" + code if missing_imports else code) + "\n"


def _stub_imports(stub: str) -> list[ast.Import | ast.ImportFrom]:
    try:
        tree = ast.parse(stub)
    except SyntaxError:
        return []
    return [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]


def normalise(code: str) -> str:
    """A key equal for candidates that differ only in formatting and comments."""
    try:
        return ast.dump(ast.parse(code))
    except SyntaxError:
        return code
