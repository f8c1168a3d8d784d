"""Merging a code block into a Python file by top-level definition.

Weak models asked for "the corrected file" often reply with just the function they changed, or
with the file minus a few functions, plus example calls. Replacing the file with that would
delete working code, so a code block is merged instead: each function, class (member by member)
or constant it defines replaces the one of the same name, new ones are added, new imports go with
the others, and statements that would run at import (prints, asserts, test functions) are dropped.
What the block leaves out stays as it was.
"""

from __future__ import annotations

import ast

from greenloop.loop.extract import parseable_prefix, runs_at_import

_Definition = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _used(nodes: list[ast.stmt]) -> set[str]:
    return {n.id for node in nodes for n in ast.walk(node) if isinstance(n, ast.Name)}


def _keep(body: list[ast.stmt], required: set[str] | None) -> list[ast.stmt]:
    """The reply's statements worth merging: no import-time code; with `required`, no definitions or
    imports that nothing required reaches (small models pad replies with unused variants and imports
    of modules that do not exist)."""
    kept = [n for n in body if not runs_at_import(n, blocks=True)]
    if required is None:
        return kept
    named = {_name(n): n for n in kept if _name(n)}
    reachable = set(required) & set(named)
    frontier = list(reachable)
    while frontier:
        for name in _used([named[frontier.pop()]]):
            if name in named and name not in reachable:
                reachable.add(name)
                frontier.append(name)
    definitions = [n for n in kept if _name(n) is None or _name(n) in reachable]
    wanted = _used([n for n in definitions if not isinstance(n, (ast.Import, ast.ImportFrom))])
    return [n for n in definitions if not isinstance(n, (ast.Import, ast.ImportFrom))
            or any((a.asname or a.name).split(".")[0] in wanted for a in n.names)]


def _name(node: ast.stmt) -> str | None:
    if isinstance(node, _Definition):
        return node.name
    if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
        return node.targets[0].id
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return node.target.id
    return None


def _span(node: ast.stmt) -> tuple[int, int]:
    """0-based first line (decorators included) and end line (exclusive)."""
    first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    return first - 1, node.end_lineno or node.lineno


def _text(lines: list[str], node: ast.stmt, indent: int) -> list[str]:
    """The node's source lines re-indented from its own column to `indent`."""
    start, end = _span(node)
    own = node.col_offset
    out = []
    for line in lines[start:end]:
        stripped = line[own:] if line[:own].strip() == "" else line.lstrip()
        out.append(" " * indent + stripped if stripped.strip() else "")
    return out


def _docstring(node: ast.stmt) -> ast.stmt | None:
    body = getattr(node, "body", None)
    if isinstance(node, _Definition) and body and isinstance(body[0], ast.Expr) and isinstance(
            body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
        return body[0]
    return None


def _replacement(reply_lines: list[str], node: ast.stmt, indent: int, old: ast.stmt, lines: list[str]) -> list[str]:
    """The reply's definition, keeping the original's docstring when the reply dropped it (small
    models do; a fix should not delete documentation)."""
    new = _text(reply_lines, node, indent)
    doc = _docstring(old)
    body = getattr(node, "body", [])
    if doc is None or _docstring(node) is not None or not body or body[0].lineno <= node.lineno:
        return new
    at = body[0].lineno - (_span(node)[0] + 1)
    doc_indent = indent + body[0].col_offset - node.col_offset
    return new[:at] + _text(lines, doc, doc_indent) + new[at:]


class _Splice:
    """Replacements and insertions on the original's lines, applied bottom-up at the end."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.edits: list[tuple[int, int, list[str]]] = []

    def replace(self, start: int, end: int, new: list[str]) -> bool:
        if self.lines[start:end] == new:
            return False
        self.edits.append((start, end, new))
        return True

    def insert(self, at: int, new: list[str]) -> None:
        self.edits.append((at, at, new))

    def result(self) -> list[str]:
        lines = list(self.lines)
        for start, end, new in sorted(self.edits, key=lambda e: (e[0], e[1]), reverse=True):
            lines[start:end] = new
        return lines


def _merge_class(splice: _Splice, original: ast.ClassDef, reply: ast.ClassDef, reply_lines: list[str],
                 notes: list[str]) -> None:
    members = {_name(n): n for n in original.body if _name(n)}
    indent = original.body[0].col_offset
    end = _span(original)[1]
    for node in reply.body:
        name = _name(node)
        if name is None:
            continue
        if name in members:
            start, stop = _span(members[name])
            if splice.replace(start, stop, _replacement(reply_lines, node, indent, members[name], splice.lines)):
                notes.append(f"replaced {original.name}.{name}")
        else:
            splice.insert(end, [""] + _text(reply_lines, node, indent))
            notes.append(f"added {original.name}.{name}")


def merge_definitions(original: str, reply: str, keep: set[str] | None = None) -> tuple[str, list[str]] | str:
    """The original with the reply's definitions merged in, and notes on what changed; or why not.
    With `keep` (names the tests need), definitions nothing in the file or `keep` reaches are dropped."""
    try:
        tree: ast.Module | None = ast.parse(original)
    except SyntaxError:
        tree = None
    parsed = parseable_prefix(reply.strip("\n"))
    reply_tree = parsed[1] if parsed else None
    required = None if keep is None or tree is None else keep | {n for n in map(_name, tree.body) if n} | {
        m for c in tree.body if isinstance(c, ast.ClassDef) for m in map(_name, c.body) if m}
    body = _keep(reply_tree.body, required) if reply_tree is not None else []
    if reply_tree is None or not any(_name(n) or isinstance(n, (ast.Import, ast.ImportFrom)) for n in body):
        return "the code block holds no usable Python (it must parse, and define or import something)"
    reply_lines = reply.strip("\n").split("\n")
    if tree is None:
        # Nothing to merge into (the file itself does not parse): the block is the new file.
        return "\n".join(line for n in body for line in _text(reply_lines, n, 0) + [""]), ["rewritten"]
    lines = original.split("\n")
    splice = _Splice(lines)
    notes: list[str] = []
    known = {_name(n): n for n in tree.body if _name(n)}
    imports = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    have_imports = {ast.unparse(n) for n in imports}
    body_end = len(lines) - 1 if lines and lines[-1] == "" else len(lines)
    main = next((n for n in tree.body if isinstance(n, ast.If) and "__name__" in ast.unparse(n.test)), None)
    append_at = _span(main)[0] if main is not None else body_end
    after_imports = _span(imports[-1])[1] if imports else _preamble_end(tree)
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            if ast.unparse(node) not in have_imports and not (
                    isinstance(node, ast.ImportFrom) and node.module == "__future__"):
                splice.insert(after_imports, _text(reply_lines, node, 0))
                have_imports.add(ast.unparse(node))
                notes.append(f"added {ast.unparse(node)}")
            continue
        name = _name(node)
        if name is None:
            continue
        old = known.get(name)
        if isinstance(old, ast.ClassDef) and isinstance(node, ast.ClassDef):
            _merge_class(splice, old, node, reply_lines, notes)
        elif old is not None:
            start, end = _span(old)
            if splice.replace(start, end, _replacement(reply_lines, node, 0, old, lines)):
                notes.append(f"replaced {name}")
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and _owner(tree, name) is not None:
            # A method replied as a bare function (the model was shown `Class.method`): it goes back
            # into its class, not beside it.
            owner = _owner(tree, name)
            assert owner is not None
            member = next(n for n in owner.body if _name(n) == name)
            start, end = _span(member)
            if splice.replace(start, end, _replacement(reply_lines, node, member.col_offset, member, lines)):
                notes.append(f"replaced {owner.name}.{name}")
        elif isinstance(node, _Definition):
            splice.insert(append_at, ["", ""] + _text(reply_lines, node, 0) + ([""] if main is not None else []))
            notes.append(f"added {name}")
        else:
            splice.insert(after_imports, _text(reply_lines, node, 0))
            notes.append(f"added {name}")
    merged = "\n".join(splice.result())
    try:
        ast.parse(merged)
    except SyntaxError as exc:
        return f"merging the code block gives a file that does not parse (line {exc.lineno}: {exc.msg})"
    return merged, notes


def _owner(tree: ast.Module, name: str) -> ast.ClassDef | None:
    """The one class of the module with a method of this name, if exactly one has it."""
    owners = [c for c in tree.body if isinstance(c, ast.ClassDef) and any(
        isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == name for n in c.body)]
    return owners[0] if len(owners) == 1 else None


def _preamble_end(tree: ast.Module) -> int:
    """The line after the module docstring and `from __future__` imports: where imports go."""
    end = 0
    for node in tree.body:
        is_doc = isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
        if is_doc or (isinstance(node, ast.ImportFrom) and node.module == "__future__"):
            end = _span(node)[1]
        else:
            break
    return end
