"""The model asking for more: a reply that only requests a file or a symbol search.

The protocol (told to the model in `diff` format): a reply whose every non-blank line is one of

    SHOW path/to/file.py        the file's text (numbered lines), or a window of it if it is big
    FIND name                   where `name` is defined: `path:line: def name(...)` for each match

is answered in the next prompt without running the tests. At most 3 requests a reply. Files that
look like secrets are never shown (they are not in the private copy either); every file of the
snapshot, tests included, may be read.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterable

Reader = Callable[[str], "str | None"]
_REQUEST = re.compile(r"^\s*(SHOW|FIND)\s+`?([\w./-]+)`?\s*$")
_MAX_LINES = 200
PROTOCOL = ("If you need to see another file first, reply with only `SHOW path/to/file.py`; to find where a "
            "function or class is defined, reply with only `FIND name` (at most 3 such lines, no edits).")


def parse(text: str) -> list[tuple[str, str]]:
    """The requests of a reply that holds nothing else, or [] (then it is an ordinary reply)."""
    lines = [line for line in text.strip().strip("`").splitlines() if line.strip()]
    found = [_REQUEST.match(line) for line in lines]
    if not lines or not all(found):
        return []
    return [(m.group(1), m.group(2)) for m in found if m][:3]


def _definitions(text: str, name: str) -> list[tuple[int, str]]:
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return []
    hits = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == name:
            kind = "class" if isinstance(node, ast.ClassDef) else "def"
            args = "" if isinstance(node, ast.ClassDef) else f"({', '.join(a.arg for a in node.args.args)})"
            hits.append((node.lineno, f"{kind} {node.name}{args}"))
    return hits


def answer(requests: list[tuple[str, str]], read: Reader, files: Iterable[str],
           secret: Callable[[str], bool]) -> str:
    """The text answering the requests, for the next prompt."""
    parts: list[str] = []
    python = [f for f in files if f.endswith(".py")]
    for verb, arg in requests:
        if verb == "SHOW":
            path = arg.removeprefix("./")
            text = None if secret(path) else read(path)
            if text is None:
                near = [f for f in python if f.endswith("/" + path.rsplit("/", 1)[-1])][:5]
                parts.append(f"SHOW {arg}: no such file" + (f" (did you mean {', '.join(near)}?)" if near else ""))
                continue
            lines = text.split("\n")
            shown = "\n".join(f"{n + 1:4d} | {line}" for n, line in enumerate(lines[:_MAX_LINES]))
            more = f"\n... ({len(lines) - _MAX_LINES} more lines)" if len(lines) > _MAX_LINES else ""
            parts.append(f"SHOW {path}:\n```\n{shown}{more}\n```")
        else:
            hits = [f"{path}:{line}: {what}" for path in python for line, what in _definitions(read(path) or "", arg)]
            parts.append(f"FIND {arg}:\n" + ("\n".join(hits[:20]) if hits else "no definition of that name"))
    return "\n\n".join(parts)
