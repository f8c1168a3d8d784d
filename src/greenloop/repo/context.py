"""What the model is shown: the failing tests, and the files most likely to hold the bug.

Candidates, in order: the files named by `--files`; the repository files in the failing tests'
tracebacks, innermost frame first (where the exception came from); the files defining what the
failing tests import. Each is shown whole if it fits the token budget, else as the definitions
that matter (the function a frame is in, the names imported), else not at all.
"""

from __future__ import annotations

import ast
import posixpath
import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass

from greenloop.execute import Outcome, TestStatus
from greenloop.repo.symbols import ranked, words
from greenloop.repo.traces import frames

Reader = Callable[[str], "str | None"]
_TEST_LINES = 30


def tokens(text: str) -> int:
    """A rough token count (code runs about 3 characters a token); budgets only need the scale."""
    return len(text) // 3 + 1


@dataclass(frozen=True)
class Shown:
    path: str
    text: str
    whole: bool
    names: tuple[str, ...] = ()  # the definitions shown, when not whole

    def label(self) -> str:
        return self.path if self.whole else f"{self.path} (excerpt: {', '.join(self.names)})"


@dataclass(frozen=True)
class Context:
    tests: list[tuple[str, str]]  # (test id, source of the test function), read-only
    files: list[Shown]  # editable files
    notes: tuple[str, ...] = ()  # what was asked for and could not be shown, and why

    def wanted(self) -> set[str]:
        """The names the failing tests use: a definition the model adds for them is not padding."""
        return set().union(*(_names(source) for _, source in self.tests))

    def labels(self) -> list[str]:
        test_files = dict.fromkeys(t.split("::")[0] for t, _ in self.tests)
        return [f.label() for f in self.files] + [f"{t} (test, read-only)" for t in test_files] + list(self.notes)


def _parse(text: str) -> ast.Module | None:
    try:
        return ast.parse(text)
    except SyntaxError:
        return None


def _definitions(tree: ast.Module) -> dict[str, ast.stmt]:
    found: dict[str, ast.stmt] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found[node.name] = node
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    found[target.id] = node
    return found


def _source(lines: list[str], node: ast.stmt) -> str:
    first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    return "\n".join(lines[first - 1:node.end_lineno or node.lineno])


def test_source(test_id: str, text: str) -> str | None:
    """The source of the test function (or method) a node id names."""
    tree = _parse(text)
    if tree is None:
        return None
    parts = [p.partition("[")[0] for p in test_id.split("::")[1:]]
    body: list[ast.stmt] = tree.body
    node: ast.stmt | None = None
    for part in parts:
        node = next((n for n in body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                     and n.name == part), None)
        if node is None:
            return None
        body = node.body if isinstance(node, ast.ClassDef) else []
    if node is None:
        return None
    lines = _source(text.split("\n"), node).split("\n")
    return "\n".join(lines[:_TEST_LINES] + (["    ..."] if len(lines) > _TEST_LINES else []))


class Finder:
    """Resolves paths and modules to repository files, reading through the candidate's state."""

    def __init__(self, read: Reader, cwd: str, roots: tuple[str, ...]) -> None:
        self.read, self.cwd, self.roots = read, cwd, roots

    def repo_path(self, path: str, base: str = "") -> str | None:
        """A path from a traceback or node id (absolute, or relative to the rootdir or cwd)."""
        if path.startswith("/"):
            for root in self.roots:
                if path.startswith(root.rstrip("/") + "/"):
                    return self.repo_path(path[len(root.rstrip("/")) + 1:])
            return None
        for start in dict.fromkeys((base, self.cwd, "")):
            candidate = posixpath.normpath(posixpath.join(start, path))
            if not candidate.startswith("..") and self.read(candidate) is not None:
                return candidate
        return None

    def module(self, name: str, near: str) -> str | None:
        rel = name.replace(".", "/")
        for base in dict.fromkeys(("", "src", posixpath.dirname(near), self.cwd)):
            for candidate in (f"{rel}.py", f"{rel}/__init__.py"):
                path = posixpath.normpath(posixpath.join(base, candidate))
                if self.read(path) is not None:
                    return path
        return None

    def defining(self, module: str, name: str, near: str, hops: int = 3) -> tuple[str, str] | None:
        """(file, name) where `from module import name` finds its definition, following re-exports."""
        sub = self.module(f"{module}.{name}", near)
        if sub is not None:
            return sub, ""
        path = self.module(module, near)
        if path is None:
            return None
        tree = _parse(self.read(path) or "")
        if tree is None or name in _definitions(tree) or hops == 0:
            return path, name
        for node in tree.body:
            if not isinstance(node, ast.ImportFrom):
                continue
            star = any(a.name == "*" for a in node.names)
            if not star and not any((a.asname or a.name) == name for a in node.names):
                continue
            real = name if star else next(a.name for a in node.names if (a.asname or a.name) == name)
            source = node.module or ""
            if node.level:
                package = posixpath.dirname(path).replace("/", ".")
                for _ in range(node.level - 1):
                    package = package.rpartition(".")[0]
                source = f"{package}.{source}".strip(".")
            found = self.defining(source, real, path, hops - 1)
            # A star import re-exports the name only if that module has it (`from .x import *`).
            if found is not None and (not star or found[1] == "" or found[1] in _definitions(
                    _parse(self.read(found[0]) or "") or ast.Module([], []))):
                return found
        return path, name


def _imports(finder: Finder, test_path: str, text: str) -> list[tuple[str, str]]:
    tree = _parse(text)
    if tree is None:
        return []
    found: list[tuple[str, str]] = []
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                hit = finder.defining(node.module, alias.name, test_path)
                if hit:
                    found.append(hit)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                path = finder.module(alias.name, test_path)
                if path:
                    # `import mod` then `mod.parse(...)`: the attributes used are the names that matter.
                    bound = alias.asname or alias.name.split(".")[0]
                    used = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)
                            and isinstance(n.value, ast.Name) and n.value.id == bound}
                    found += [(path, u) for u in sorted(used)] or [(path, "")]
    return found


def _names(source: str) -> set[str]:
    tree = _parse(textwrap.dedent(source))
    if tree is None:
        return set()
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} | {
        n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}


def _count_definitions(text: str) -> int:
    tree = _parse(text)
    return len(_definitions(tree)) if tree is not None else 0


def _enclosing(text: str, line: int) -> str:
    tree = _parse(text)
    if tree is None:
        return ""
    for node in tree.body:
        if node.lineno <= line <= (node.end_lineno or node.lineno) and isinstance(
                node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            return node.name
    return ""


def _member(lines: list[str], defs: dict[str, ast.stmt], dotted: str) -> str | None:
    """`Class.method`: the class line and that method alone, for classes too big to show whole."""
    cls_name, _, method = dotted.partition(".")
    cls = defs.get(cls_name)
    if not isinstance(cls, ast.ClassDef):
        return None
    node = next((n for n in cls.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == method),
                None)
    if node is None:
        return None
    header = "\n".join(lines[min([cls.lineno] + [d.lineno for d in cls.decorator_list]) - 1:cls.lineno])
    return f"{header}\n    # ...\n{_source(lines, node)}"


def _excerpt(text: str, names: list[str]) -> tuple[str, tuple[str, ...]] | None:
    tree = _parse(text)
    if tree is None:
        return None
    defs = _definitions(tree)
    lines = text.split("\n")
    chosen = [n for n in dict.fromkeys(names) if n in defs or "." in n and _member(lines, defs, n)]
    if not chosen:
        return None
    imports = [_source(lines, n) for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    parts = imports + ["# ..."] + [(_source(lines, defs[n]) if n in defs else _member(lines, defs, n) or "")
                                   + "\n\n# ..." for n in chosen]
    return "\n".join(parts), tuple(chosen)


def _window(text: str, lines: list[int], budget: int) -> tuple[str, int, int] | None:
    """The lines around the frames' lines (or the file's head) that fit `budget` tokens, numbered
    by the file's own line numbers in the label: a big file is still shown where it matters."""
    all_lines = text.split("\n")
    centre = (min(lines) + max(lines)) // 2 if lines else 1
    half = 40
    while half >= 5:
        start = max(1, centre - half)
        end = min(len(all_lines), centre + half)
        chunk = "\n".join(all_lines[start - 1:end])
        if tokens(chunk) <= budget:
            return chunk, start, end
        half //= 2
    return None


def gather(outcome: Outcome, *, read: Reader, protect: Callable[[str], str | None], files: list[str],
           cwd: str, roots: tuple[str, ...], budget: int, single: bool = False,
           candidates: list[str] | None = None) -> Context:
    """The context for one prompt, within `budget` tokens; `single` shows at most one file.

    Files, in order: `--files` (always shown, at least in part, or a note says why not); the repository
    files of every failing test's traceback frames, innermost first; the files defining what the
    failing tests import (module files first); files among `candidates` whose definitions the failing
    tests' words name (`symbols.py`); then package `__init__.py` files the imports reached. For a
    command other than pytest, its output's tracebacks and `file:line` references stand in for the
    frames."""
    finder = Finder(read, cwd, roots)
    failing = [t for t in outcome.tests if t.status in (TestStatus.FAILED, TestStatus.ERROR, TestStatus.TIMEOUT)]
    tests: list[tuple[str, str]] = []
    notes: list[str] = []
    focus: dict[str, list[str]] = {}
    lines: dict[str, list[int]] = {}
    for f in files:
        why = protect(f)
        if why:
            notes.append(f"--files {f}: not shown ({why})")
        else:
            focus[f] = []

    def frame(path: str, line: int) -> None:
        rel = finder.repo_path(path)
        if rel and rel.endswith(".py") and not protect(rel):
            focus.setdefault(rel, []).append(_enclosing(read(rel) or "", line))
            lines.setdefault(rel, []).append(line)

    imports: list[tuple[str, str]] = []
    for result in failing[:5]:
        test_file = finder.repo_path(result.test_id.split("::")[0])
        text = read(test_file) if test_file else None
        source = test_source(result.test_id, text) if text is not None else None
        if source and source not in [s for _, s in tests] and len(tests) < 3:
            tests.append((result.test_id, source))
        for path, line in reversed(frames(result.traceback + "\n" + result.message)):
            frame(path, line)
        if test_file and text is not None:
            imported = [(p, n) for p, n in _imports(finder, test_file, text) if not protect(p)]
            # Of what the test module imports, what this test uses (all of it, if that says nothing).
            used = _names(source or "")
            imports += [(p, n) for p, n in imported if not n or n in used] or imported
    if not failing or not focus:  # a command other than pytest: its output is the traceback
        for path, line in reversed(frames(outcome.output) + references(outcome.output)):
            frame(path, line)
    hubs = [(p, n) for p, n in imports if p.endswith("__init__.py")]
    for path, name in imports:
        if (path, name) not in hubs:
            focus.setdefault(path, []).append(name)
    wanted = words([s for _, s in tests], [t.test_id for t in failing], [n for _, n in imports])
    for path, names in ranked([c for c in candidates or [] if c not in focus], read, wanted):
        focus.setdefault(path, []).extend(names)
    for path, name in hubs:
        focus.setdefault(path, []).append(name)
    left = budget - sum(tokens(s) for _, s in tests)
    shown: list[Shown] = []
    for path, names in focus.items():
        text = read(path)
        if text is None or (single and shown):
            continue
        excerpt = _excerpt(text, [n for n in names if n])
        # A small model rewrites whatever it is shown: show it only the definitions that matter.
        narrow = single and excerpt is not None and len(excerpt[1]) < _count_definitions(text)
        if tokens(text) <= left and not narrow:
            shown.append(Shown(path, text, True))
            left -= tokens(text)
        elif excerpt is not None and tokens(excerpt[0]) <= left:
            shown.append(Shown(path, excerpt[0], False, excerpt[1]))
            left -= tokens(excerpt[0])
        elif path in files or path in lines:
            window = _window(text, lines.get(path, []), left)
            if window is not None:
                shown.append(Shown(path, window[0], False, (f"lines {window[1]}-{window[2]}",)))
                left -= tokens(window[0])
            elif path in files:
                notes.append(f"--files {path}: not shown (no part of it fits the token budget; raise --context-tokens)")
    return Context(tests, shown, tuple(notes))


_REFERENCE = re.compile(r"(?<![\w/.-])((?:[\w.-]+/)*[\w.-]+\.py):(\d+)")


def references(output: str) -> list[tuple[str, int]]:
    """`path.py:line` references anywhere in a command's output (linters, custom runners, make)."""
    return [(m.group(1), int(m.group(2))) for m in _REFERENCE.finditer(output)]
