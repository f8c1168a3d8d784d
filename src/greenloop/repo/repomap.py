"""A map of the repository for the model: each source file with its top-level definitions.

Built with `ast` from the snapshot (never by importing), ranked so that what the failing tests
reach comes first: the files shown, then files in the same packages, then files whose definitions
the failing tests name; cut to a token budget. It tells a model that sees one file where the rest
of the code is, so a SEARCH/REPLACE block can name the right file.
"""

from __future__ import annotations

import ast
import posixpath
from collections.abc import Callable, Iterable

Reader = Callable[[str], "str | None"]


def outline(text: str) -> list[str]:
    """`name(args)` for functions, `Class(method, ...)` for classes, at the top level."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return []
    found: list[str] = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found.append(f"{node.name}({', '.join(a.arg for a in node.args.args)})")
        elif isinstance(node, ast.ClassDef):
            methods = [n.name for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
                       and (not n.name.startswith("_") or n.name in ("__init__", "__call__"))]
            found.append(f"{node.name}({', '.join(methods[:8])}{', ...' if len(methods) > 8 else ''})")
    return found


def repo_map(files: Iterable[str], read: Reader, *, shown: list[str], names: set[str], budget: int) -> str:
    """One line per file, most relevant first, within `budget` tokens (about 3 characters each)."""
    packages = {posixpath.dirname(p) for p in shown}
    entries: list[tuple[tuple[int, int, str], str]] = []
    for path in files:
        if not path.endswith(".py"):
            continue
        items = outline(read(path) or "")
        if not items:
            continue
        hits = sum(item.split("(")[0] in names for item in items)
        rank = 0 if path in shown else 1 if posixpath.dirname(path) in packages else 2 if hits else 3
        entries.append(((rank, -hits, path), f"{path}: {'; '.join(items)}"))
    lines: list[str] = []
    used = 0
    for _, line in sorted(entries):
        line = line if len(line) <= 300 else line[:297] + "..."
        if used + len(line) // 3 + 1 > budget:
            break
        lines.append(line)
        used += len(line) // 3 + 1
    return "\n".join(lines)
