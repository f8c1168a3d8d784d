"""Getting a candidate module out of a model's reply.

Small models wrap code in prose, emit several blocks, drop the stub's imports, append example
calls or asserts at module level, or stop mid-statement. This picks the block that defines the
names the tests need, keeps the longest prefix that parses, removes module-level statements that
would run at import (prints, asserts, `if __name__ == "__main__"`), and restores the stub's imports
and the complete helper definitions it gave.
"""

from __future__ import annotations

import ast
import re

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)


def _blocks(text: str) -> list[str]:
    blocks = [body for lang, body in _FENCE.findall(text) if lang.lower() in ("", "python", "py", "python3")]
    return blocks or [text]


def parseable_prefix(code: str) -> tuple[str, ast.Module] | None:
    """The longest prefix of whole lines that parses: small models stop mid-statement."""
    lines = code.splitlines()
    for end in range(len(lines), 0, -1):
        text = "\n".join(lines[:end])
        try:
            return text, ast.parse(text)
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


def runs_at_import(node: ast.stmt, *, blocks: bool = False) -> bool:
    """Example calls, asserts, `if __name__ == ...` and test functions that small models append to a
    module. `blocks`: top-level `for`, `while` and `with` too (a merge into an existing file drops
    them; a whole module may build a table in a loop)."""
    if isinstance(node, ast.Assert) or (blocks and isinstance(node, (ast.For, ast.While, ast.With))):
        return True
    if isinstance(node, ast.Expr) and not isinstance(node.value, ast.Constant):
        return True  # print(...), f(...) examples
    if isinstance(node, ast.If):
        return "__name__" in ast.unparse(node.test)
    return isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test_")


def extract_code(text: str, required: list[str], stub: str = "") -> str | None:
    """The candidate module in `text`, or None when the reply holds no usable Python.

    Works on the reply's own lines, so the model's formatting and comments survive."""
    best: tuple[int, int, str, ast.Module] | None = None
    for block in _blocks(text):
        parsed = parseable_prefix(block)
        if parsed is None or not parsed[1].body:
            continue
        score = len(set(required) & _defined(parsed[1]))
        if best is None or (score, len(parsed[1].body)) > best[:2]:
            best = (score, len(parsed[1].body), *parsed)
    if best is None or not set(required) & _defined(best[3]):
        broken = _broken_definition(text, required, stub)
        if best is None or broken is not None:
            return broken
    source, tree = best[2], best[3]
    lines = source.splitlines()
    drop: set[int] = set()
    kept = []
    for node in tree.body:
        if runs_at_import(node):
            first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
            drop.update(range(first - 1, (node.end_lineno or node.lineno)))
        else:
            kept.append(node)
    if not kept:
        return None
    for node in _unreachable_definitions(kept, required):
        kept.remove(node)
        drop.update(range(min([node.lineno] + [d.lineno for d in node.decorator_list]) - 1, node.end_lineno or node.lineno))
    code = "\n".join(line for i, line in enumerate(lines) if i not in drop).strip("\n")
    have = _defined(ast.Module(body=kept, type_ignores=[]))
    missing_imports = [
        ast.unparse(node) for node in _stub_imports(stub)
        if not {(a.asname or a.name).split(".")[0] for a in node.names} <= have
    ]
    missing = [ast.get_source_segment(stub, d) or ast.unparse(d) for d in stub_helpers(stub) if d.name not in have]
    head = "\n".join(missing_imports) + ("\n\n" if missing_imports else "")
    head += "".join(f"{text}\n\n\n" for text in missing)
    return head + code + "\n"


def _broken_definition(text: str, required: list[str], stub: str) -> str | None:
    """A block that defines a required name but does not parse, kept whole: running it reports the
    syntax error and its line, which a revision can fix; "no code" would say nothing useful."""
    for block in _blocks(text):
        if any(re.search(rf"^def {re.escape(name)}\(", block, re.MULTILINE) for name in required):
            imports = "".join(ast.unparse(node) + "\n" for node in _stub_imports(stub))
            return imports + block.strip("\n") + "\n"
    return None


def _unreachable_definitions(
    body: list[ast.stmt], required: list[str]
) -> list[ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef]:
    """Top-level functions and classes nothing needed refers to (small models pad replies with
    variants like `f_manual_manual`); they only add noise to the next prompt."""
    definitions = [n for n in body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
    if not required or not any(d.name in required for d in definitions):
        return []
    reachable = set(required)
    for node in body:
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            reachable.update(n.id for n in ast.walk(node) if isinstance(n, ast.Name))
    changed = True
    while changed:
        changed = False
        for d in definitions:
            if d.name in reachable:
                for n in ast.walk(d):
                    if isinstance(n, ast.Name) and n.id not in reachable:
                        reachable.add(n.id)
                        changed = True
    return [d for d in definitions if d.name not in reachable]


def _stub_imports(stub: str) -> list[ast.Import | ast.ImportFrom]:
    try:
        tree = ast.parse(stub)
    except SyntaxError:
        return []
    return [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]


def stub_helpers(stub: str) -> list[ast.FunctionDef | ast.ClassDef]:
    """The stub's complete definitions (a body beyond a docstring or `...`): helpers the task gives,
    like HumanEval's `encode_cyclic`, which a reply that only writes the asked-for function drops."""
    try:
        tree = ast.parse(stub)
    except SyntaxError:
        return []
    helpers: list[ast.FunctionDef | ast.ClassDef] = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            body = node.body[1:] if ast.get_docstring(node) is not None else node.body
            if any(not (isinstance(s, ast.Pass) or (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant)))
                   for s in body):
                helpers.append(node)
    return helpers


_CODING = re.compile(r"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)")


def normalise(code: str) -> str:
    """A key equal for candidates that differ only in formatting and comments; an encoding
    declaration is no mere comment (it changes what the file's bytes mean), so it stays in the key."""
    coding = next((m.group(1) for line in code.splitlines()[:2] if (m := _CODING.match(line))), "")
    try:
        return coding + ast.dump(ast.parse(code))
    except SyntaxError:
        return code
